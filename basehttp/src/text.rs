//! Text helpers reproducing Python's: `%r`, `html.escape`, the log escaping, the date strings and the error page.

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
    for character in message.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '\0'..='\x1f' | '\x7f'..='\u{9f}' => {
                let _ = write!(out, "\\x{:02x}", u32::from(character));
            }
            _ => out.push(character),
        }
    }
    out
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

/// Python's `date_time_string(timestamp)`: an HTTP date such as `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn date_time_string(time: SystemTime) -> String {
    httpdate::fmt_http_date(time)
}

/// Python's `log_date_time_string()` for `time`: `22/Nov/2026 10:00:00`.
///
/// Python uses local time; this crate forbids `unsafe`, and the C library's `localtime_r` is the only
/// local-time source in std's reach, so the time is given in UTC.
/// Override [`crate::BaseHttpRequestHandler::log_message`] to log with another clock.
pub fn log_date_time_string(time: SystemTime) -> String {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .map(|duration| duration.as_secs())
        .unwrap_or(0);
    let days = seconds / 86_400;
    let in_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{day:02}/{}/{year:04} {:02}:{:02}:{:02}",
        MONTHS[(month - 1) as usize],
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    )
}

/// Converts days since 1970-01-01 to (year, month 1–12, day 1–31) in the proleptic Gregorian calendar.
/// Howard Hinnant's `civil_from_days`, restricted to dates after the epoch.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z - era * 146_097;
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
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
    fn dates_match_python() {
        let time = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(date_time_string(time), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(log_date_time_string(time), "06/Nov/1994 08:49:37");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(log_date_time_string(leap), "29/Feb/2000 00:00:00");
        assert_eq!(log_date_time_string(UNIX_EPOCH), "01/Jan/1970 00:00:00");
    }
}
