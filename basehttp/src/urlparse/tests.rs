//! Unit tests mirroring CPython's Lib/test/test_urlparse.py (UrlParseTestCase) and test_urllib.py (the quoting tests),
//! where they apply to str input with UTF-8.

use super::*;

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

/// Checks `parse_qsl` with keep_blank_values=True against `expected`, and without it against `expected` less its blanks,
/// as test_qsl does.
fn check_qsl(query: &str, expected: &[(&str, &str)]) {
    assert_eq!(parse_qsl(query, true), pairs(expected), "{query:?}");
    let without_blanks: Vec<_> = expected
        .iter()
        .copied()
        .filter(|(_, value)| !value.is_empty())
        .collect();
    assert_eq!(parse_qsl(query, false), pairs(&without_blanks), "{query:?}");
    // The path that decodes by itself (strict UTF-8) reads valid queries as the form_urlencoded path does.
    let strict = QueryOptions {
        keep_blank_values: true,
        errors: DecodeErrors::Strict,
        ..QueryOptions::default()
    };
    assert_eq!(
        parse_qsl_with(query, &strict),
        Ok(pairs(expected)),
        "{query:?}"
    );
}

// Mirrors test_urlparse: parse_qsl_test_cases (the str ones), test_qsl.
#[test]
fn test_qsl() {
    check_qsl("", &[]);
    check_qsl("&", &[]);
    check_qsl("&&", &[]);
    check_qsl("=", &[("", "")]);
    check_qsl("=a", &[("", "a")]);
    check_qsl("a", &[("a", "")]);
    check_qsl("a=", &[("a", "")]);
    check_qsl("&a=b", &[("a", "b")]);
    check_qsl("a=a+b&b=b+c", &[("a", "a b"), ("b", "b c")]);
    check_qsl("a=1&a=2", &[("a", "1"), ("a", "2")]);
    check_qsl(";a=b", &[(";a", "b")]);
    check_qsl("a=a+b;b=b+c", &[("a", "a b;b=b c")]);
    check_qsl("a=%2F&b=%2f", &[("a", "/"), ("b", "/")]);
    check_qsl("a==b", &[("a", "=b")]);
}

// Mirrors test_urlparse: parse_qs_test_cases, test_qs.
#[test]
fn test_qs() {
    let query = parse_qs("a=1&a=2&b=&c=x+y", true);
    assert_eq!(query["a"], ["1", "2"]);
    assert_eq!(query["b"], [""]);
    assert_eq!(query["c"], ["x y"]);
    let query = parse_qs("a=1&a=2&b=&c=x+y", false);
    assert!(!query.contains_key("b"));
    assert_eq!(query.len(), 2);
    assert!(parse_qs("", true).is_empty());
    let strict = QueryOptions {
        strict_parsing: true,
        ..QueryOptions::default()
    };
    assert_eq!(
        parse_qs_with("a=1&a=2", &strict).map(|query| query["a"].clone()),
        Ok(vec!["1".to_owned(), "2".to_owned()])
    );
}

// Mirrors test_urlparse: test_parse_qsl_max_num_fields.
#[test]
fn test_parse_qsl_max_num_fields() {
    let options = QueryOptions {
        max_num_fields: Some(10),
        ..QueryOptions::default()
    };
    let eleven = ["a=a"; 11].join("&");
    assert_eq!(
        parse_qs_with(&eleven, &options),
        Err(UrlParseError::TooManyFields)
    );
    let ten = ["a=a"; 10].join("&");
    assert_eq!(
        parse_qsl_with(&ten, &options).map(|fields| fields.len()),
        Ok(10)
    );
    // An empty query has no field to count.
    let none = QueryOptions {
        max_num_fields: Some(0),
        ..QueryOptions::default()
    };
    assert_eq!(parse_qsl_with("", &none), Ok(Vec::new()));
}

// Mirrors test_urlparse: strict_parsing raises ValueError("bad query field") for a field without '=' and an empty one.
#[test]
fn strict_parsing_refuses_fields_without_equals() {
    let strict = QueryOptions {
        strict_parsing: true,
        ..QueryOptions::default()
    };
    assert_eq!(
        parse_qsl_with("a=1&b", &strict),
        Err(UrlParseError::BadQueryField)
    );
    assert_eq!(
        parse_qsl_with("a=1&&b=2", &strict),
        Err(UrlParseError::BadQueryField)
    );
    assert_eq!(parse_qsl_with("a=1&b=", &strict), Ok(pairs(&[("a", "1")])));
}

// Mirrors test_urlparse: test_parse_qsl_encoding (the UTF-8 cases) and the errors argument.
#[test]
fn test_parse_qsl_encoding() {
    assert_eq!(
        parse_qsl("key=\u{141}%C3%A9", false),
        pairs(&[("key", "\u{141}\u{e9}")])
    );
    assert_eq!(
        parse_qsl("key=\u{141}%E9-", false),
        pairs(&[("key", "\u{141}\u{fffd}-")])
    );
    let strict = QueryOptions {
        errors: DecodeErrors::Strict,
        ..QueryOptions::default()
    };
    assert_eq!(
        parse_qsl_with("key=\u{141}%E9-", &strict),
        Err(UrlParseError::InvalidUtf8)
    );
}

/// Python's test helper `hexescape`: `%XX` in upper case.
fn hexescape(character: char) -> String {
    format!("%{:02X}", u32::from(character))
}

// Mirrors test_urllib: UnquotingTests.test_unquoting, test_unquoting_badpercent, test_unquoting_mixed_case, test_unquoting_parts.
#[test]
fn test_unquoting() {
    let mut given = String::new();
    let mut expected = String::new();
    for number in 0u8..128 {
        let character = char::from(number);
        assert_eq!(unquote(&hexescape(character)), character.to_string());
        assert_eq!(unquote_plus(&hexescape(character)), character.to_string());
        given.push_str(&hexescape(character));
        expected.push(character);
    }
    assert_eq!(unquote(&given), expected);
    for bad in ["%xab", "%x", "%", "%a", "%%41"] {
        let expected = if bad == "%%41" { "%A" } else { bad };
        assert_eq!(unquote(bad), expected);
    }
    assert_eq!(unquote("%Ab%eA%C3%a9"), "\u{fffd}\u{fffd}\u{e9}");
    assert_eq!(unquote(&format!("ab{}d", hexescape('c'))), "abcd");
}

// Mirrors test_urllib: UnquotingTests.test_unquoting_plus.
#[test]
fn test_unquoting_plus() {
    let given = "are+there+spaces+in+this";
    assert_eq!(unquote(given), given);
    assert_eq!(unquote_plus(given), "are there spaces in this");
    assert_eq!(unquote_plus("%7e/abc+def"), "~/abc def");
    assert_eq!(unquote_plus("a%2Bb"), "a+b");
}

// Mirrors test_urllib: UnquotingTests.test_unquote_with_unicode.
#[test]
fn test_unquote_with_unicode() {
    assert_eq!(
        unquote("br%C3%BCckner_sapporo_20050930.doc"),
        "br\u{fc}ckner_sapporo_20050930.doc"
    );
    assert_eq!(unquote("%E6%BC%A2%E5%AD%97"), "\u{6f22}\u{5b57}");
    assert_eq!(unquote("%F3%B1"), "\u{fffd}");
    assert_eq!(unquote("%ab%cd%ef"), "\u{fffd}\u{fffd}\u{fffd}");
    assert_eq!(
        unquote_with("%ab%cd%ef", DecodeErrors::Strict),
        Err(UrlParseError::InvalidUtf8)
    );
    assert_eq!(unquote("\u{6f22}%C3%BC"), "\u{6f22}\u{fc}");
    assert_eq!(
        unquote_with("%E6%BC%A2", DecodeErrors::Strict).as_deref(),
        Ok("\u{6f22}")
    );
}

// Mirrors test_urllib: QuotingTests.test_never_quote, test_safe, test_default_quoting, test_quoting_space, test_quoting_plus.
#[test]
fn test_quoting() {
    let never = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~";
    assert_eq!(quote(never, "/"), never);
    assert_eq!(quote_plus(never, ""), never);
    assert_eq!(quote("<>", "<>"), "<>");
    assert_eq!(quote_plus("<>", "<>"), "<>");
    let mut should_quote: Vec<char> = (0u8..32).map(char::from).collect();
    should_quote.extend(r#"<>#%"{}|\^[]`"#.chars());
    should_quote.push('\u{7f}');
    for character in should_quote {
        let text = character.to_string();
        assert_eq!(quote(&text, "/"), hexescape(character), "{character:?}");
        assert_eq!(quote_plus(&text, ""), hexescape(character), "{character:?}");
    }
    assert_eq!(quote("ab[]cd", "/"), "ab%5B%5Dcd");
    assert_eq!(quote(" ", "/"), "%20");
    assert_eq!(quote_plus(" ", ""), "+");
    assert_eq!(quote("a b cd e f", "/"), "a%20b%20cd%20e%20f");
    assert_eq!(quote_plus("a b cd e f", ""), "a+b+cd+e+f");
    assert_eq!(quote_plus("alpha+beta gamma", ""), "alpha%2Bbeta+gamma");
    assert_eq!(quote_plus("alpha+beta gamma", "+"), "alpha+beta+gamma");
    // The default safe character of quote is '/', and quote_plus has none.
    assert_eq!(quote("/a/b", "/"), "/a/b");
    assert_eq!(quote_plus("/a/b", ""), "%2Fa%2Fb");
    // Where WHATWG's form serializer differs: Python escapes '*' and keeps '~'.
    assert_eq!(quote_plus("*~", ""), "%2A~");
}

// Mirrors test_urllib: QuotingTests.test_quote_with_unicode, test_quote_plus_with_unicode.
#[test]
fn test_quote_with_unicode() {
    assert_eq!(quote("\u{a2}\u{d8}ab\u{ff}", "/"), "%C2%A2%C3%98ab%C3%BF");
    assert_eq!(quote("\u{6f22}\u{5b57}", "/"), "%E6%BC%A2%E5%AD%97");
    assert_eq!(
        quote_plus("\u{6f22}\u{5b57} \u{6f22}\u{5b57}", ""),
        "%E6%BC%A2%E5%AD%97+%E6%BC%A2%E5%AD%97"
    );
    // A safe character outside ASCII is ignored, as Python encodes safe as ASCII and drops the rest.
    assert_eq!(quote("\u{e9}", "\u{e9}"), "%C3%A9");
}

// Mirrors test_urllib: urlencode_Tests.test_quoting, test_doseq, test_using_sequence.
#[test]
fn test_urlencode() {
    assert_eq!(urlencode([("&", "=")]), "%26=%3D");
    assert_eq!(
        urlencode([("key name", "A bunch of pluses")]),
        "key+name=A+bunch+of+pluses"
    );
    assert_eq!(
        urlencode([("sequence", "1"), ("sequence", "2"), ("sequence", "3")]),
        "sequence=1&sequence=2&sequence=3"
    );
    assert_eq!(urlencode(Vec::<(&str, &str)>::new()), "");
    let owned = vec![
        ("1st".to_owned(), "1".to_owned()),
        ("2nd".to_owned(), "2".to_owned()),
    ];
    assert_eq!(urlencode(owned), "1st=1&2nd=2");
    // A round trip through parse_qsl.
    let fields = [("q", "a+b c&d=é"), ("", "x")];
    assert_eq!(parse_qsl(&urlencode(fields), true), pairs(&fields));
}

fn split(url: &str) -> SplitResult {
    urlsplit(url).unwrap_or_else(|error| panic!("{url:?}: {error}"))
}

// Mirrors test_urlparse: test_urlsplit_attributes.
#[test]
fn test_urlsplit_attributes() {
    let url = split("HTTP://WWW.PYTHON.ORG/doc/#frag");
    assert_eq!(url.scheme, "http");
    assert_eq!(url.netloc, "WWW.PYTHON.ORG");
    assert_eq!(url.path, "/doc/");
    assert_eq!(url.query, "");
    assert_eq!(url.fragment, "frag");
    assert_eq!((url.username(), url.password()), (None, None));
    assert_eq!(url.hostname().as_deref(), Some("www.python.org"));
    assert_eq!(url.port(), Ok(None));

    let url = split("http://User:Pass@www.python.org:080/doc/?query=yes#frag");
    assert_eq!(url.netloc, "User:Pass@www.python.org:080");
    assert_eq!(
        (url.path.as_str(), url.query.as_str()),
        ("/doc/", "query=yes")
    );
    assert_eq!(
        (url.username(), url.password()),
        (Some("User"), Some("Pass"))
    );
    assert_eq!(url.hostname().as_deref(), Some("www.python.org"));
    assert_eq!(url.port(), Ok(Some(80)));

    // issue1698: a user name may hold '@'.
    let url = split("http://User@example.com:Pass@www.python.org:080/doc/?query=yes#frag");
    assert_eq!(url.username(), Some("User@example.com"));
    assert_eq!(url.password(), Some("Pass"));
    assert_eq!(url.hostname().as_deref(), Some("www.python.org"));
    assert_eq!(url.port(), Ok(Some(80)));

    let url = split("http://User@www.python.org/");
    assert_eq!((url.username(), url.password()), (Some("User"), None));

    assert_eq!(
        split("HTTP://WWW.PYTHON.ORG:65536/doc/#frag").port(),
        Err(UrlParseError::PortOutOfRange)
    );
    assert_eq!(
        split("http://www.python.org:-1/").port(),
        Err(UrlParseError::InvalidPort)
    );
    // test_port_casting_failure_message
    assert_eq!(
        split("http://Server=sde; Service=sde:oracle").port(),
        Err(UrlParseError::InvalidPort)
    );
}

// Mirrors test_urlparse: test_urlsplit_remove_unsafe_bytes and test_urlsplit_strip_url.
#[test]
fn test_urlsplit_remove_unsafe_bytes_and_leading_noise() {
    let url = split(
        "http\t://www.python\n.org\t/java\nscript:\talert('msg\r\n')/?query\n=\tsomething#frag\nment",
    );
    assert_eq!(url.scheme, "http");
    assert_eq!(url.netloc, "www.python.org");
    assert_eq!(url.path, "/javascript:alert('msg')/");
    assert_eq!(url.query, "query=something");
    assert_eq!(url.fragment, "fragment");
    let noise: String = (0u8..=0x20).map(char::from).collect();
    let base = "http://User:Pass@www.python.org:080/doc/?query=yes#frag";
    assert_eq!(split(&format!("{noise}{base}")), split(base));
}

// Mirrors test_urlparse: test_RFC2732.
#[test]
fn test_rfc2732() {
    let cases: [(&str, &str, Option<u16>); 11] = [
        (
            "http://Test.python.org:5432/foo/",
            "test.python.org",
            Some(5432),
        ),
        ("http://12.34.56.78:5432/foo/", "12.34.56.78", Some(5432)),
        ("http://[::1]:5432/foo/", "::1", Some(5432)),
        (
            "http://[dead:beef::1]:5432/foo/",
            "dead:beef::1",
            Some(5432),
        ),
        ("http://[dead:beef::]:5432/foo/", "dead:beef::", Some(5432)),
        (
            "http://[dead:beef:cafe:5417:affe:8FA3:deaf:feed]:5432/foo/",
            "dead:beef:cafe:5417:affe:8fa3:deaf:feed",
            Some(5432),
        ),
        (
            "http://[::12.34.56.78]:5432/foo/",
            "::12.34.56.78",
            Some(5432),
        ),
        (
            "http://[::ffff:12.34.56.78]:5432/foo/",
            "::ffff:12.34.56.78",
            Some(5432),
        ),
        ("http://Test.python.org/foo/", "test.python.org", None),
        ("http://[::1]/foo/", "::1", None),
        ("http://[::1]:/foo/", "::1", None),
    ];
    for (url, hostname, port) in cases {
        let parts = split(url);
        assert_eq!(parts.hostname().as_deref(), Some(hostname), "{url}");
        assert_eq!(parts.port(), Ok(port), "{url}");
    }
    for invalid in [
        "http://::12.34.56.78]/",
        "http://[::1/foo/",
        "ftp://[::1/foo/bad]/bad",
        "http://[::1/foo/bad]/bad",
        "http://[::ffff:12.34.56.78",
    ] {
        assert_eq!(
            urlsplit(invalid),
            Err(UrlParseError::InvalidIpv6Url),
            "{invalid}"
        );
    }
}

// Mirrors test_urlparse: test_splitting_bracketed_hosts, test_invalid_bracketed_hosts, test_urlsplit_scoped_IPv6.
#[test]
fn test_bracketed_hosts() {
    let url = split("scheme://user@[v6a.ip]:1234/path?query");
    assert_eq!(url.hostname().as_deref(), Some("v6a.ip"));
    assert_eq!(url.username(), Some("user"));
    assert_eq!(url.path, "/path");
    assert_eq!(url.port(), Ok(Some(1234)));
    let url = split("scheme://user@[0439:23af:2309::fae7%test]/path?query");
    assert_eq!(url.hostname().as_deref(), Some("0439:23af:2309::fae7%test"));
    let url = split("scheme://user@[0439:23af:2309::fae7:1234:192.0.2.146%test]/path?query");
    assert_eq!(
        url.hostname().as_deref(),
        Some("0439:23af:2309::fae7:1234:192.0.2.146%test")
    );
    let url = split("http://[FE80::822a:a8ff:fe49:470c%tESt]:1234");
    assert_eq!(
        url.hostname().as_deref(),
        Some("fe80::822a:a8ff:fe49:470c%tESt")
    );
    assert_eq!(url.netloc, "[FE80::822a:a8ff:fe49:470c%tESt]:1234");
    for invalid in [
        "Scheme://user@[192.0.2.146]/Path?Query",
        "Scheme://user@[important.com:8000]/Path?Query",
        "Scheme://user@[v123r.IP]/Path?Query",
        "Scheme://user@[v12ae]/Path?Query",
        "Scheme://user@[v.IP]/Path?Query",
        "Scheme://user@[v123.]/Path?Query",
        "Scheme://user@[v]/Path?Query",
        "Scheme://user@[0439:23af::2309::fae7:1234]/Path?Query",
        "Scheme://user@[0439:23af:2309::fae7:1234:2342:438e:192.0.2.146]/Path?Query",
        "Scheme://user@]v6a.ip[/Path",
    ] {
        assert_eq!(
            urlsplit(invalid),
            Err(UrlParseError::InvalidBracketedHost),
            "{invalid}"
        );
    }
}

// Request targets, as a handler splits self.path: no scheme, no netloc, the query kept raw.
#[test]
fn request_targets_split_into_path_and_query() {
    let url = split("/items?limit=2&tag=a%26b#top");
    assert_eq!(
        (url.scheme.as_str(), url.netloc.as_str(), url.path.as_str()),
        ("", "", "/items")
    );
    assert_eq!(
        (url.query.as_str(), url.fragment.as_str()),
        ("limit=2&tag=a%26b", "top")
    );
    assert_eq!(split("/a:b").path, "/a:b");
    assert_eq!(split("/a?b?c").query, "b?c");
    let absolute = split("http://example.com/items?x=1");
    assert_eq!(
        (absolute.path.as_str(), absolute.query.as_str()),
        ("/items", "x=1")
    );
    // Python's urlsplit reads "items:1" as scheme "items" and path "1".
    let schemed = split("items:1");
    assert_eq!(
        (schemed.scheme.as_str(), schemed.path.as_str()),
        ("items", "1")
    );
}

mod properties {
    use proptest::prelude::*;

    use super::super::*;

    proptest! {
        // The two ways parse_qsl_with reads a query agree wherever the strict one succeeds,
        // and nothing here panics on any text.
        #[test]
        fn the_strict_path_agrees_with_form_urlencoded(query in "[a-z=&+%0-9A-F\\u{e9} ;]{0,40}") {
            let strict = QueryOptions { keep_blank_values: true, errors: DecodeErrors::Strict, ..QueryOptions::default() };
            if let Ok(fields) = parse_qsl_with(&query, &strict) {
                prop_assert_eq!(fields, parse_qsl(&query, true));
            }
            let _ = parse_qs(&query, false);
        }

        #[test]
        fn urlsplit_and_its_readers_never_panic(url in "\\PC{0,60}") {
            if let Ok(parts) = urlsplit(&url) {
                let _ = (parts.hostname(), parts.port(), parts.username(), parts.password());
            }
            let _ = (unquote(&url), unquote_plus(&url), quote(&url, "/"), quote_plus(&url, ""));
        }

        #[test]
        fn quote_then_unquote_is_the_identity(text in "\\PC{0,40}") {
            let quoted = quote(&text, "");
            prop_assert_eq!(unquote(&quoted), text.as_str());
            let quoted = quote_plus(&text, "");
            prop_assert_eq!(unquote_plus(&quoted), text.as_str());
        }
    }
}
