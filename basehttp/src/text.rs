//! Text helpers reproducing Python's: `%r`, `html.escape`, the log escaping, the date strings and the error page.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// Python's default `error_message_format` (3.14's `DEFAULT_ERROR_MESSAGE`), placeholders included.
pub const DEFAULT_ERROR_MESSAGE: &str = "<!DOCTYPE HTML>
<html lang=\"en\">
    <head>
        <meta charset=\"utf-8\">
        <style type=\"text/css\">
            :root {
                color-scheme: light dark;
            }
        </style>
        <title>Error response</title>
    </head>
    <body>
        <h1>Error response</h1>
        <p>Error code: %(code)d</p>
        <p>Message: %(message)s.</p>
        <p>Error code explanation: %(code)s - %(explain)s.</p>
    </body>
</html>
";

/// Python's `DEFAULT_ERROR_CONTENT_TYPE`.
pub const DEFAULT_ERROR_CONTENT_TYPE: &str = "text/html;charset=utf-8";

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Python's `repr()` of a string, as `%r` writes it: quotes chosen as Python does, non-printable characters escaped.
///
/// Characters above U+00FF are copied as they are (Python escapes the non-printable ones among them too);
/// the request text this quotes is ISO-8859-1, so it never holds any.
pub fn python_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for character in text.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ if character == quote => {
                out.push('\\');
                out.push(quote);
            }
            '\0'..='\x1f' | '\x7f'..='\u{a0}' | '\u{ad}' => {
                let _ = write!(out, "\\x{:02x}", u32::from(character));
            }
            _ => out.push(character),
        }
    }
    out.push(quote);
    out
}

/// Escapes a log message as Python's `log_message` does (the log-injection fix, gh-100001):
/// control characters 0x00–0x1F and 0x7F–0x9F become `\xNN`, and `\` is doubled.
pub fn escape_log(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let _ = EscapeLog(&mut out).write_str(message);
    out
}

/// A `fmt::Write` that escapes what goes through it as [`escape_log`] does, so a log line is built in one buffer.
pub(crate) struct EscapeLog<'a>(pub(crate) &'a mut String);

impl std::fmt::Write for EscapeLog<'_> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let out = &mut *self.0;
        for character in text.chars() {
            match character {
                '\\' => out.push_str("\\\\"),
                '\0'..='\x1f' | '\x7f'..='\u{9f}' => {
                    let _ = write!(out, "\\x{:02x}", u32::from(character));
                }
                _ => out.push(character),
            }
        }
        Ok(())
    }
}

/// Python's `html.escape(text, quote)`: `&`, `<`, `>` always; `"` and `'` too when `quote` is true.
pub fn html_escape(text: &str, quote: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if quote => out.push_str("&quot;"),
            '\'' if quote => out.push_str("&#x27;"),
            _ => out.push(character),
        }
    }
    out
}

/// Fills Python's `%(code)d`, `%(code)s`, `%(message)s` and `%(explain)s` placeholders (and `%%`) in `template`.
///
/// `message` and `explain` are inserted as given: [`crate::HttpRequest::send_error`] HTML-escapes them first.
pub fn format_error_message(template: &str, code: u16, message: &str, explain: &str) -> String {
    let mut out = String::with_capacity(template.len() + message.len() + explain.len());
    let mut rest = template;
    while let Some(index) = rest.find('%') {
        out.push_str(&rest[..index]);
        rest = &rest[index..];
        let replacements: [(&str, &dyn std::fmt::Display); 5] = [
            ("%(code)d", &code),
            ("%(code)s", &code),
            ("%(message)s", &message),
            ("%(explain)s", &explain),
            ("%%", &'%'),
        ];
        match replacements
            .iter()
            .find(|(placeholder, _)| rest.starts_with(placeholder))
        {
            Some((placeholder, value)) => {
                let _ = write!(out, "{value}");
                rest = &rest[placeholder.len()..];
            }
            None => {
                out.push('%');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `format(time)`, with the last two answers of this formatter kept per thread ([`RecentTimes`]).
macro_rules! remembered {
    ($time:expr, $format:expr) => {
        remembered!($time, $format, str::to_owned)
    };
    ($time:expr, $format:expr, $use_text:expr) => {{
        thread_local! {
            static RECENT: RefCell<RecentTimes> = const { RefCell::new(RecentTimes::new()) };
        }
        RECENT.with_borrow_mut(|recent| recent.with($time, $format, $use_text))
    }};
}

/// Python's `date_time_string(timestamp)`: an HTTP date such as `Sun, 06 Nov 1994 08:49:37 GMT`.
///
/// Any time is accepted, also one before 1970 or after 9999 (where `httpdate` panics):
/// a file's modification time is not under the server's control.
pub fn date_time_string(time: SystemTime) -> String {
    with_date_time_string(time, str::to_owned)
}

/// [`date_time_string`] lent to `use_text` rather than copied, for the `Date` of every response.
pub(crate) fn with_date_time_string<R>(time: SystemTime, use_text: impl FnOnce(&str) -> R) -> R {
    remembered!(time, format_date_time, use_text)
}

fn format_date_time(time: SystemTime) -> String {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let at = Calendar::of(time);
    let weekday = WEEKDAYS[at.days.rem_euclid(7) as usize];
    format!(
        "{weekday}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        at.day, at.month, at.year, at.hour, at.minute, at.second
    )
}

/// Python's `log_date_time_string()` for `time`: `22/Nov/2026 10:00:00`.
///
/// Python uses local time; this crate forbids `unsafe`, and the C library's `localtime_r` is the only
/// local-time source in std's reach, so the time is given in UTC.
/// Override [`crate::BaseHttpRequestHandler::log_message`] to log with another clock.
pub fn log_date_time_string(time: SystemTime) -> String {
    remembered!(time, format_log_date_time)
}

fn format_log_date_time(time: SystemTime) -> String {
    let at = Calendar::of(time);
    format!(
        "{:02}/{}/{:04} {:02}:{:02}:{:02}",
        at.day, at.month, at.year, at.hour, at.minute, at.second
    )
}

/// The time in the Common Log Format: `10/Oct/2000:13:55:36 +0000` (always UTC, for the reason [`log_date_time_string`] gives).
pub(crate) fn common_log_date_time(time: SystemTime) -> String {
    remembered!(time, format_common_log_date_time)
}

fn format_common_log_date_time(time: SystemTime) -> String {
    let at = Calendar::of(time);
    format!(
        "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000",
        at.day, at.month, at.year, at.hour, at.minute, at.second
    )
}

/// The time as RFC 3339 in UTC, to the second: `2000-10-10T13:55:36Z` (JSON access lines, simplehttp's JSON listing);
/// times before 1970 too, a fraction of a second rounding down to the earlier second as Python's `gmtime` does.
pub fn rfc3339_date_time(time: SystemTime) -> String {
    remembered!(time, format_rfc3339_date_time)
}

fn format_rfc3339_date_time(time: SystemTime) -> String {
    let at = Calendar::of(time);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year, at.month.number, at.day, at.hour, at.minute, at.second
    )
}

/// A month, shown by its English abbreviation (`Nov`) in HTTP and log dates, by `number` in RFC 3339.
#[derive(Clone, Copy)]
struct Month {
    number: i128,
}

impl std::fmt::Display for Month {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(MONTHS[(self.number - 1) as usize])
    }
}

/// A time's UTC calendar fields, read once for every format above.
struct Calendar {
    /// Whole days since 1970-01-01 (for the weekday).
    days: i64,
    year: i128,
    month: Month,
    day: i128,
    hour: i64,
    minute: i64,
    second: i64,
}

impl Calendar {
    fn of(time: SystemTime) -> Calendar {
        let (days, second_of_day) = days_and_seconds(time);
        let (year, month, day) = civil_from_days(days);
        Calendar {
            days,
            year,
            month: Month { number: month },
            day,
            hour: second_of_day / 3600,
            minute: second_of_day % 3600 / 60,
            second: second_of_day % 60,
        }
    }
}

/// The last two times a thread formatted, by whole second: a response's `Date` and its file's `Last-Modified`
/// repeat from one request to the next, and formatting a date costs more than the rest of the headers together.
struct RecentTimes {
    entries: [Option<(i64, String)>; 2],
    /// Which entry the next new time replaces.
    next: usize,
}

impl RecentTimes {
    const fn new() -> Self {
        RecentTimes {
            entries: [None, None],
            next: 0,
        }
    }

    /// The text of `time` as `format` writes it, lent to `use_text`: remembered when it was formatted before.
    fn with<R>(
        &mut self,
        time: SystemTime,
        format: fn(SystemTime) -> String,
        use_text: impl FnOnce(&str) -> R,
    ) -> R {
        let (days, second_of_day) = days_and_seconds(time);
        let key = days.saturating_mul(86_400).saturating_add(second_of_day);
        let saturated = key == i64::MAX || key == i64::MIN;
        if !saturated {
            if let Some((_, text)) = self.entries.iter().flatten().find(|(seen, _)| *seen == key) {
                return use_text(text);
            }
        }
        let text = format(time);
        let used = use_text(&text);
        if !saturated {
            self.entries[self.next] = Some((key, text));
            self.next = (self.next + 1) % self.entries.len();
        }
        used
    }
}

/// Whole days since 1970-01-01 and the second within that day, flooring as Python's `gmtime` does
/// (half a second before the epoch is 23:59:59 of the day before).
fn days_and_seconds(time: SystemTime) -> (i64, i64) {
    let seconds = match time.duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(before) => {
            let before = before.duration();
            let whole = before.as_secs() + u64::from(before.subsec_nanos() > 0);
            i64::try_from(whole).map_or(i64::MIN, |whole| -whole)
        }
    };
    (seconds.div_euclid(86_400), seconds.rem_euclid(86_400))
}

/// Year, month (1–12) and day (1–31) of a day counted from 1970-01-01 in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`), in 128-bit arithmetic so no input overflows.
fn civil_from_days(days: i64) -> (i128, i128, i128) {
    let z = i128::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i128::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn remembered_times_are_the_times_asked_for() {
        // Three times taking turns through a two-entry memory, and sub-second steps within one second.
        let times: Vec<SystemTime> = [784_111_777, 0, 784_111_777, 4_102_444_800, 0, 784_111_777]
            .iter()
            .flat_map(|&seconds| {
                [0, 999].map(|millis| {
                    UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_millis(millis)
                })
            })
            .chain([UNIX_EPOCH - Duration::from_millis(1), SystemTime::now()])
            .collect();
        for time in times {
            assert_eq!(date_time_string(time), format_date_time(time));
            assert_eq!(log_date_time_string(time), format_log_date_time(time));
        }
    }

    #[test]
    fn date_time_string_takes_any_time() {
        // Mirrors Python's email.utils.formatdate(usegmt=True); httpdate would panic on the first and last.
        let before = UNIX_EPOCH - Duration::from_millis(500);
        assert_eq!(date_time_string(before), "Wed, 31 Dec 1969 23:59:59 GMT");
        assert_eq!(
            date_time_string(UNIX_EPOCH + Duration::from_secs(784_111_777)),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        let far = UNIX_EPOCH + Duration::from_secs(253_402_300_800);
        assert_eq!(date_time_string(far), "Sat, 01 Jan 10000 00:00:00 GMT");
        assert_eq!(log_date_time_string(before), "31/Dec/1969 23:59:59");
    }

    fn check(function: fn(&str) -> String, input: &str, expected: &str) {
        assert_eq!(function(input), expected, "input {input:?}");
    }

    #[test]
    fn repr_matches_python() {
        check(python_repr, "GET", "'GET'");
        check(python_repr, "it's", "\"it's\"");
        check(python_repr, "it's \"x\"", "'it\\'s \"x\"'");
        check(python_repr, "a\tb\r\n", "'a\\tb\\r\\n'");
        check(python_repr, "\x00\x1b\x7f", "'\\x00\\x1b\\x7f'");
        check(python_repr, "\u{85}\u{a0}\u{ad}é", "'\\x85\\xa0\\xadé'");
        check(python_repr, "back\\slash", "'back\\\\slash'");
        check(python_repr, "", "''");
    }

    #[test]
    fn log_escaping_matches_python() {
        // Mirrors test_httpservers: RequestHandlerLoggingTestCase.test_err (the control-character table).
        check(escape_log, "plain text", "plain text");
        check(escape_log, "a\nb\r\x1b[31m", "a\\x0ab\\x0d\\x1b[31m");
        check(
            escape_log,
            "\x7f\u{80}\u{9f}\u{a0}",
            "\\x7f\\x80\\x9f\u{a0}",
        );
        check(escape_log, "C:\\path", "C:\\\\path");
    }

    #[test]
    fn html_escape_matches_python() {
        assert_eq!(
            html_escape("<a href=\"x\">'&'</a>", false),
            "&lt;a href=\"x\"&gt;'&amp;'&lt;/a&gt;"
        );
        assert_eq!(
            html_escape("<a href=\"x\">'&'</a>", true),
            "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;"
        );
    }

    #[test]
    fn error_page_fills_placeholders() {
        let page = format_error_message(
            DEFAULT_ERROR_MESSAGE,
            404,
            "File not found",
            "Nothing matches the given URI",
        );
        assert!(page.contains("<p>Error code: 404</p>"));
        assert!(page.contains("<p>Message: File not found.</p>"));
        assert!(
            page.contains("<p>Error code explanation: 404 - Nothing matches the given URI.</p>")
        );
        assert_eq!(
            format_error_message("100%% %(code)d %x", 7, "", ""),
            "100% 7 %x"
        );
    }

    #[test]
    fn rfc3339_dates() {
        use std::time::Duration;
        let at = |seconds: u64| rfc3339_date_time(UNIX_EPOCH + Duration::from_secs(seconds));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_825_599), "2000-02-29T11:59:59Z");
        assert_eq!(at(1_796_292_245), "2026-12-03T10:04:05Z");
        assert_eq!(at(4_107_542_400), "2100-03-01T00:00:00Z");
        assert_eq!(at(253_402_300_799), "9999-12-31T23:59:59Z");
        // Before 1970, a fraction of a second rounds down to the earlier second.
        assert_eq!(
            rfc3339_date_time(UNIX_EPOCH - Duration::from_millis(500)),
            "1969-12-31T23:59:59Z"
        );
        assert_eq!(
            rfc3339_date_time(UNIX_EPOCH - Duration::from_secs(86_400 * 365)),
            "1969-01-01T00:00:00Z"
        );
    }

    #[test]
    fn access_log_dates() {
        let time = UNIX_EPOCH + Duration::from_secs(971_186_136);
        assert_eq!(common_log_date_time(time), "10/Oct/2000:13:55:36 +0000");
        assert_eq!(rfc3339_date_time(time), "2000-10-10T13:55:36Z");
    }

    #[test]
    fn dates_match_python() {
        let time = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(date_time_string(time), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(log_date_time_string(time), "06/Nov/1994 08:49:37");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(log_date_time_string(leap), "29/Feb/2000 00:00:00");
        assert_eq!(log_date_time_string(UNIX_EPOCH), "01/Jan/1970 00:00:00");
    }
}
