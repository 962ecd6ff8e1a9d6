"""Business-time rules (plugin.sla.calendar): working days, holidays, DST, send windows."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.sla.calendar import BusinessCalendar, CalendarError, SendWindow, validate_calendar

WINDOW = SendWindow()
NY = BusinessCalendar("America/New_York", "US")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- the DESIGN.md example and working-day counting ------------------------------------


def test_design_example_due_at_skips_veterans_day() -> None:
    # Fri 2026-11-06 15:00 EST; Wed 11 Nov (Veterans Day) is skipped.
    due_day = NY.working_days_after(utc(2026, 11, 6, 20), 5)
    assert due_day == date(2026, 11, 16)
    assert NY.window_end(due_day, WINDOW) == utc(2026, 11, 16, 22)
    assert NY.holiday_name(date(2026, 11, 11)) == "Veterans Day"


def test_weekends_are_skipped() -> None:
    cal = BusinessCalendar("UTC")
    assert cal.add_working_days(date(2026, 5, 8), 1) == date(2026, 5, 11)  # Fri -> Mon
    assert cal.add_working_days(date(2026, 5, 9), 1) == date(2026, 5, 11)  # Sat -> Mon
    assert not cal.is_working_day(date(2026, 5, 10))


def test_closures_are_skipped_and_named() -> None:
    cal = BusinessCalendar("UTC", closures=frozenset({date(2026, 5, 11), date(2026, 5, 12)}))
    assert cal.add_working_days(date(2026, 5, 8), 1) == date(2026, 5, 13)
    assert cal.holiday_name(date(2026, 5, 11)) == "Closure"
    assert cal.holiday_name(date(2026, 5, 13)) is None


def test_closures_accept_any_iterable() -> None:
    cal = BusinessCalendar(
        "UTC", working_weekdays=[0, 1], closures=[date(2026, 5, 11)]  # type: ignore[arg-type]
    )
    assert cal.working_weekdays == frozenset({0, 1})
    assert hash(cal)  # still usable as a cache key


def test_subdivision_holiday_bavaria_christmas() -> None:
    cal = BusinessCalendar("Europe/Berlin", "DE", "BY")
    assert cal.add_working_days(date(2026, 12, 23), 3) == date(2026, 12, 29)


def test_subdivision_holiday_california_thanksgiving() -> None:
    cal = BusinessCalendar("America/Los_Angeles", "US", "CA")
    assert cal.holiday_name(date(2026, 11, 27)) == "Day After Thanksgiving"
    assert cal.add_working_days(date(2026, 11, 25), 3) == date(2026, 12, 2)
    # The Day After Thanksgiving is a California holiday, not a federal one.
    federal = BusinessCalendar("America/Los_Angeles", "US")
    assert federal.add_working_days(date(2026, 11, 25), 3) == date(2026, 12, 1)


def test_friday_before_monday_bank_holiday() -> None:
    cal = BusinessCalendar("Europe/London", "GB", "ENG")
    interview = datetime(2026, 8, 28, 16, 0, tzinfo=cal.tz)  # Friday; Mon 31 Aug is a bank holiday
    assert cal.holiday_name(date(2026, 8, 31)) is not None
    due_day = cal.working_days_after(interview, 1)
    assert due_day == date(2026, 9, 1)
    assert cal.window_end(due_day, WINDOW) == utc(2026, 9, 1, 16)  # 17:00 BST


def test_negative_n_counts_backwards() -> None:
    assert NY.add_working_days(date(2026, 5, 11), -2) == date(2026, 5, 7)  # Mon -> Thu
    assert NY.add_working_days(date(2026, 11, 12), -1) == date(2026, 11, 10)  # skips Veterans Day


def test_n_zero_is_same_day_or_next_working_day() -> None:
    assert NY.add_working_days(date(2026, 5, 11), 0) == date(2026, 5, 11)
    assert NY.add_working_days(date(2026, 5, 9), 0) == date(2026, 5, 11)
    assert NY.add_working_days(date(2026, 11, 11), 0) == date(2026, 11, 12)


def test_no_working_day_for_ten_years_raises() -> None:
    mondays = frozenset(date(2026, 1, 5) + timedelta(weeks=w) for w in range(11 * 53))
    cal = BusinessCalendar("UTC", working_weekdays=frozenset({0}), closures=mondays)
    with pytest.raises(CalendarError, match="No working day"):
        cal.add_working_days(date(2026, 1, 1), 1)


def test_custom_working_week_sunday_to_thursday() -> None:
    cal = BusinessCalendar("Asia/Dubai", working_weekdays=frozenset({6, 0, 1, 2, 3}))
    assert cal.add_working_days(date(2026, 11, 19), 1) == date(2026, 11, 22)  # Thu -> Sun
    assert not cal.is_working_day(date(2026, 11, 20))  # Friday
    assert cal.is_working_day(date(2026, 11, 22))


def test_custom_week_ignores_package_weekend() -> None:
    # AE's holidays package has its own weekend rules; only our working_weekdays count.
    cal = BusinessCalendar("Asia/Dubai", "AE", working_weekdays=frozenset({0, 1, 2, 3, 4, 5, 6}))
    assert cal.is_working_day(date(2026, 5, 9))  # a Saturday, not a holiday


def test_working_days_between() -> None:
    assert NY.working_days_between(utc(2026, 11, 6, 20), utc(2026, 11, 16, 22)) == 5
    assert NY.working_days_between(utc(2026, 11, 16, 22), utc(2026, 11, 6, 20)) == 0
    assert NY.working_days_between(utc(2026, 11, 9, 15), utc(2026, 11, 9, 20)) == 0


# --- DST ---------------------------------------------------------------------------------


def test_window_end_after_spring_forward_is_17_local() -> None:
    due_day = NY.working_days_after(utc(2026, 3, 6, 20), 1)  # Fri before the change
    assert due_day == date(2026, 3, 9)
    end = NY.window_end(due_day, WINDOW)
    assert end == utc(2026, 3, 9, 21)  # 17:00 EDT
    assert end.astimezone(NY.tz).time() == time(17, 0)


def test_window_end_after_fall_back_is_17_local() -> None:
    due_day = NY.working_days_after(utc(2026, 10, 30, 20), 1)
    assert due_day == date(2026, 11, 2)
    assert NY.window_end(due_day, WINDOW) == utc(2026, 11, 2, 22)  # 17:00 EST


def test_local_instant_in_spring_gap_moves_forward() -> None:
    # 02:30 does not exist on 2026-03-08; the first instant after the gap is 03:00 EDT.
    moved = NY.local_instant(date(2026, 3, 8), time(2, 30))
    assert moved == utc(2026, 3, 8, 7)
    assert moved.astimezone(NY.tz).time() == time(3, 0)


def test_local_instant_ambiguous_takes_first_occurrence() -> None:
    assert NY.local_instant(date(2026, 11, 1), time(1, 30)) == utc(2026, 11, 1, 5, 30)  # EDT


def test_results_are_utc() -> None:
    assert NY.window_start(date(2026, 5, 11), WINDOW).tzinfo is UTC
    assert NY.next_window_opening(utc(2026, 5, 11, 15), WINDOW).tzinfo is UTC


# --- zones far from UTC ----------------------------------------------------------------------


def test_date_line_zones_follow_local_date() -> None:
    kiritimati = BusinessCalendar("Pacific/Kiritimati")  # UTC+14
    pago_pago = BusinessCalendar("Pacific/Pago_Pago")  # UTC-11
    instant = utc(2026, 11, 18, 12)
    assert kiritimati.local_date(instant) == date(2026, 11, 19)
    assert pago_pago.local_date(instant) == date(2026, 11, 18)
    assert kiritimati.working_days_after(instant, 1) == date(2026, 11, 20)
    assert pago_pago.working_days_after(instant, 1) == date(2026, 11, 19)
    assert kiritimati.window_end(date(2026, 11, 20), WINDOW) == utc(2026, 11, 20, 3)
    assert pago_pago.window_end(date(2026, 11, 19), WINDOW) == utc(2026, 11, 20, 4)


# --- send windows ---------------------------------------------------------------------------


def test_next_window_opening_before_inside_after() -> None:
    # Mon 2026-05-11, EDT (UTC-4): window is 13:00Z-21:00Z.
    assert NY.next_window_opening(utc(2026, 5, 11, 10), WINDOW) == utc(2026, 5, 11, 13)
    assert NY.next_window_opening(utc(2026, 5, 11, 15, 30), WINDOW) == utc(2026, 5, 11, 15, 30)
    assert NY.next_window_opening(utc(2026, 5, 11, 21), WINDOW) == utc(2026, 5, 12, 13)  # end is exclusive


def test_next_window_opening_across_weekend() -> None:
    assert NY.next_window_opening(utc(2026, 5, 8, 22), WINDOW) == utc(2026, 5, 11, 13)  # Fri evening
    assert NY.next_window_opening(utc(2026, 5, 9, 15), WINDOW) == utc(2026, 5, 11, 13)  # Saturday


def test_next_window_opening_across_holiday() -> None:
    # Tue 10 Nov evening -> Wed 11 is Veterans Day -> Thu 12 09:00 EST.
    assert NY.next_window_opening(utc(2026, 11, 10, 23), WINDOW) == utc(2026, 11, 12, 14)
    assert NY.next_window_opening(utc(2026, 11, 11, 15), WINDOW) == utc(2026, 11, 12, 14)


def test_is_inside_window() -> None:
    assert NY.is_inside_window(utc(2026, 5, 11, 13), WINDOW)
    assert not NY.is_inside_window(utc(2026, 5, 11, 21), WINDOW)
    assert not NY.is_inside_window(utc(2026, 5, 9, 15), WINDOW)  # Saturday
    assert not NY.is_inside_window(utc(2026, 11, 11, 15), WINDOW)  # holiday


def test_custom_send_window() -> None:
    early = SendWindow(time(7, 30), time(12, 0))
    assert NY.window_start(date(2026, 5, 11), early) == utc(2026, 5, 11, 11, 30)
    assert NY.window_end(date(2026, 5, 11), early) == utc(2026, 5, 11, 16)


# --- validation ------------------------------------------------------------------------------


def test_send_window_start_must_precede_end() -> None:
    with pytest.raises(CalendarError, match="before end"):
        SendWindow(time(17, 0), time(9, 0))
    with pytest.raises(CalendarError):
        SendWindow(time(9, 0), time(9, 0))


def test_unknown_time_zone() -> None:
    with pytest.raises(CalendarError, match=r"Unknown time zone 'Mars/Base'"):
        BusinessCalendar("Mars/Base")
    with pytest.raises(CalendarError, match="Unknown time zone"):
        validate_calendar("../../etc/passwd", None, None)


def test_unknown_country() -> None:
    with pytest.raises(CalendarError, match=r"Unknown holiday country 'XX'"):
        BusinessCalendar("UTC", "XX")


def test_unknown_subdivision_lists_known_codes_truncated() -> None:
    with pytest.raises(CalendarError) as info:
        validate_calendar("America/New_York", "US", "ZZ")
    message = str(info.value)
    assert message.startswith("Unknown subdivision 'ZZ' for country 'US' (known: AK, AL, ")
    assert "WY" not in message and "in all" in message


def test_subdivision_without_country() -> None:
    with pytest.raises(CalendarError, match="without a holiday country"):
        BusinessCalendar("UTC", None, "BY")


@pytest.mark.parametrize("weekdays", [frozenset(), frozenset({7}), frozenset({-1}), frozenset({"1"})])
def test_bad_working_weekdays(weekdays: frozenset[int]) -> None:
    with pytest.raises(CalendarError, match="working_weekdays"):
        BusinessCalendar("UTC", working_weekdays=weekdays)


def test_calendar_error_is_value_error() -> None:
    assert issubclass(CalendarError, ValueError)


def test_naive_datetimes_rejected() -> None:
    naive = datetime(2026, 5, 11, 12)
    with pytest.raises(ValueError, match="Naive"):
        NY.local_date(naive)
    with pytest.raises(ValueError, match="Naive"):
        NY.next_window_opening(naive, WINDOW)
    with pytest.raises(ValueError, match="Naive"):
        NY.working_days_between(naive, utc(2026, 5, 12))


def test_with_timezone(caplog: pytest.LogCaptureFixture) -> None:
    london = NY.with_timezone("Europe/London")
    assert london.timezone == "Europe/London"
    assert (london.country, london.working_weekdays) == (NY.country, NY.working_weekdays)
    assert NY.with_timezone(None) is NY
    with caplog.at_level(logging.DEBUG, logger="plugin.sla.calendar"):
        assert NY.with_timezone("Not/AZone") is NY
    assert "Not/AZone" in caplog.text


# --- property ---------------------------------------------------------------------------------

CALENDARS = [
    NY,
    BusinessCalendar("Europe/Berlin", "DE", "BY"),
    BusinessCalendar("Pacific/Kiritimati"),
    BusinessCalendar("Pacific/Pago_Pago", "US", "AS"),
    BusinessCalendar("Asia/Dubai", "AE", working_weekdays=frozenset({6, 0, 1, 2, 3})),
]


@settings(max_examples=200, deadline=None)
@given(
    cal=st.sampled_from(CALENDARS),
    instant=st.datetimes(datetime(2026, 1, 1), datetime(2028, 12, 31, 23, 59), timezones=st.just(UTC)),
    n=st.integers(1, 30),
)
def test_property_add_working_days(cal: BusinessCalendar, instant: datetime, n: int) -> None:
    start = cal.local_date(instant)
    result = cal.add_working_days(start, n)
    assert cal.is_working_day(result)
    assert result > start
    between = [start + timedelta(days=i) for i in range(1, (result - start).days)]
    assert sum(cal.is_working_day(d) for d in between) == n - 1
    assert cal.working_days_between(instant, cal.local_instant(result, time(12, 0))) == n
