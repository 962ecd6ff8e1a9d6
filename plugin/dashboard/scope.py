"""Who sees what: every dashboard query goes through `visible_jobs` (and the organisation filter).

Admins and viewers see the whole organisation. Managers see the jobs of their departments and the
jobs where they are the hiring manager or the recruiter (their own requisitions).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, or_, true

from plugin.models import Job, Role


@dataclass(frozen=True)
class Viewer:
    user_id: int
    org_id: str
    email: str
    name: str | None
    role: Role
    departments: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def sees_whole_organization(self) -> bool:
        return self.role in (Role.ADMIN, Role.VIEWER)

    @property
    def label(self) -> str:
        return self.name or self.email


def visible_jobs(viewer: Viewer) -> ColumnElement[bool]:
    """A WHERE clause on `Job` (join it in) for the jobs this viewer may see."""
    in_org = Job.org_id == viewer.org_id
    if viewer.sees_whole_organization:
        return and_(in_org, true())
    email = viewer.email.lower()
    own = or_(func.lower(Job.hiring_manager_email) == email, func.lower(Job.recruiter_email) == email)
    if viewer.departments:
        own = or_(own, Job.department.in_(viewer.departments))
    return and_(in_org, own)
