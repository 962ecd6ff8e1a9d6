"""The business calendar through the API: closures, working days, validation, recomputed deadlines."""

from datetime import UTC, datetime

from helpers import interview_done, obligations


def test_closure_inside_a_deadline_moves_it_a_working_day_later(org, rt, clock):
    ended = datetime(2026, 11, 16, 20, 0, tzinfo=UTC)  # Mon 15:00 New York
    clock.set(ended)
    org.post(interview_done(ended))
    [before] = obligations(rt.db)
    assert before.due_at == datetime(2026, 11, 23, 22, 0, tzinfo=UTC)  # Mon 23 Nov, 17:00 EST
    body = org.client.patch("/api/v1/organization", headers=org.headers,
                            json={"closures": [{"day": "2026-11-18", "label": "Company offsite"}]})
    assert body.status_code == 200, body.get_json()
    assert body.get_json()["recomputed"] == 1
    [after] = obligations(rt.db)
    assert after.due_at == datetime(2026, 11, 24, 22, 0, tzinfo=UTC)


def test_four_day_week_and_calendar_are_returned(org):
    response = org.client.patch("/api/v1/organization", headers=org.headers,
                                json={"working_weekdays": [0, 1, 2, 3], "holiday_subdivision": "NY"})
    assert response.status_code == 200, response.get_json()
    body = org.get("/api/v1/organization")
    assert body["working_weekdays"] == [0, 1, 2, 3]
    assert body["holiday_country"] == "US" and body["holiday_subdivision"] == "NY"


def test_bad_calendar_is_refused_with_the_field_and_changes_nothing(org):
    for patch, field in (({"timezone": "Mars/Olympus"}, "timezone"), ({"holiday_country": "XX"}, "holiday_country"),
                         ({"working_weekdays": [7]}, "working_weekdays"), ({"colour": "red"}, "colour"),
                         ({"holiday_subdivision": "ZZ"}, "holiday_subdivision")):
        response = org.client.patch("/api/v1/organization", headers=org.headers, json=patch)
        assert response.status_code == 422, patch
        assert field in response.get_json()["errors"]["json"], response.get_json()
    body = org.get("/api/v1/organization")
    assert body["timezone"] == "America/New_York" and body["working_weekdays"] == [0, 1, 2, 3, 4]
