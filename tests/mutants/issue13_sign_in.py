"""Issue 13, items 4 and 5 mutants: the sign-in throttle race and dashboard addresses per organisation.

Each entry is a plain text replacement (see run.py): `search` occurs exactly once in `file` and
becomes `replace`; the tests listed must then fail.
"""

from __future__ import annotations

RACE = "tests/dashboard/test_dashboard_auth.py::test_parallel_wrong_passwords_are_checked_no_more_than_the_limit"
PER_ORG = "tests/dashboard/test_dashboard_accounts_per_org.py"
PICKER = f"{PER_ORG}::test_the_picker_offers_only_the_accounts_just_verified_and_only_for_five_minutes"
MIGRATION = f"{PER_ORG}::test_migration_0006_keeps_users_and_lets_an_address_into_a_second_organisation"

MUTANTS = [
    {
        "name": "sign-in-attempt-not-counted",
        "why": "the throttle checks the limit but never counts an attempt: every parallel guess is checked",
        "file": "plugin/dashboard/throttle.py",
        "search": "  redis.call('ZADD', key, now, ARGV[3])\n",
        "replace": "",
        "tests": [RACE],
    },
    {
        "name": "sign-in-limit-off-by-one",
        "why": "a sixth password is checked before the address locks",
        "file": "plugin/dashboard/throttle.py",
        "search": "  if redis.call('ZCARD', key) >= limit then\n",
        "replace": "  if redis.call('ZCARD', key) > limit then\n",
        "tests": [RACE],
    },
    {
        "name": "sign-in-success-keeps-client-attempt",
        "why": "successful sign-ins use up the client's allowance (an office behind one address locks itself out)",
        "file": "plugin/dashboard/throttle.py",
        "search": "        pipe.zrem(reservation.client_key, reservation.member)\n",
        "replace": "",
        "tests": ["tests/dashboard/test_dashboard_auth.py::test_successful_sign_ins_do_not_count_against_the_client"],
    },
    {
        "name": "address-unique-across-organisations",
        "why": "inviting an address that has an account at another organisation is refused: the admin learns it exists",
        "file": "plugin/accounts/users.py",
        "search": "    if user_by_email(session, org.id, email) is not None:\n",
        "replace": "    if session.scalar(select(User).where(func.lower(User.email) == email.lower())) is not None:\n",
        "tests": [f"{PER_ORG}::test_inviting_another_organisations_address_answers_as_for_a_new_address",
                  "tests/api/test_tenant_isolation.py"],
    },
    {
        "name": "sign-in-checks-one-account-only",
        "why": "an address with accounts in two organisations can only sign in to the first",
        "file": "plugin/accounts/users.py",
        "search": "    return [user for user in candidates if verify_password(user, password)]\n",
        "replace": "    return [user for user in candidates[:1] if verify_password(user, password)]\n",
        "tests": [f"{PER_ORG}::test_same_address_in_two_organisations_each_signs_in_to_its_own"],
    },
    {
        "name": "several-matches-sign-in-to-the-first",
        "why": "one password for two accounts signs in to whichever comes first, without asking",
        "file": "plugin/dashboard/sign_in.py",
        "search": "                if len(matches) == 1:\n",
        "replace": "                if len(matches) >= 1:\n",
        "tests": [f"{PER_ORG}::test_one_password_for_both_accounts_asks_which_organisation"],
    },
    {
        "name": "picker-takes-any-account",
        "why": "the organisation picker signs in to any account id posted, not only those just verified",
        "file": "plugin/dashboard/sign_in.py",
        "search": "    user = db().get(User, int(account)) if account.isdigit() and fingerprint else None\n",
        "replace": "    user = db().get(User, int(account)) if account.isdigit() else None\n"
                   "    fingerprint = fingerprint or (session_fingerprint(user) if user else '')\n",
        "tests": [PICKER],
    },
    {
        "name": "picker-not-bound-to-password",
        "why": "a choice outlives a password change made after the password was checked",
        "file": "plugin/dashboard/sign_in.py",
        "search": "            or not secrets.compare_digest(session_fingerprint(user), fingerprint)):\n",
        "replace": "            ):\n",
        "tests": [PICKER],
    },
    {
        "name": "picker-never-expires",
        "why": "the organisation picker works forever after one correct password",
        "file": "plugin/dashboard/sign_in.py",
        "search": "    if not choice or choice.get(\"until\", 0) < now().timestamp():\n",
        "replace": "    if not choice:\n",
        "tests": [PICKER],
    },
    {
        "name": "migration-0006-keeps-the-global-index",
        "why": "the upgrade adds the per-organisation index but leaves the installation-wide one",
        "file": "plugin/migrations/versions/0006_user_addresses_per_organization.py",
        "search": "    op.drop_index('uq_users_email_lower', table_name='users')\n\n",
        "replace": "\n",
        "tests": [MIGRATION],
    },
    {
        "name": "migration-0006-downgrade-unguarded",
        "why": "going back fails on a bare IntegrityError instead of saying which addresses are shared",
        "file": "plugin/migrations/versions/0006_user_addresses_per_organization.py",
        "search": "    if shared:\n",
        "replace": "    if False:\n",
        "tests": [MIGRATION],
    },
]
