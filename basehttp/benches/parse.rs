//! Parses a typical browser request head with this crate's parser and with httparse, on the same bytes.
//!
//! The goal is at least 0.8× httparse's speed while also building the owned, case-insensitive `Headers`
//! and deciding the body framing, which httparse leaves to its caller.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

const HEAD: &[u8] = b"GET /static/css/site.css?v=3 HTTP/1.1\r\n\
Host: www.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: text/css,*/*;q=0.1\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Referer: https://www.example.com/index.html\r\n\
Connection: keep-alive\r\n\
Cookie: session=0123456789abcdef; theme=dark\r\n\
Sec-Fetch-Dest: style\r\n\
Sec-Fetch-Mode: no-cors\r\n\
Sec-Fetch-Site: same-origin\r\n\
\r\n";

fn parse(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("request_head");
    group.bench_function("basehttp", |bencher| {
        let mut parser = basehttp::HeadParser::new();
        bencher.iter(|| {
            parser.reset();
            match parser.parse(black_box(HEAD)) {
                Ok(basehttp::Status::Complete(head)) => black_box(head.length),
                _ => 0,
            }
        })
    });
    group.bench_function("basehttp_scan_only", |bencher| {
        let mut parser = basehttp::HeadParser::new();
        let partial = &HEAD[..HEAD.len() - 2];
        bencher.iter(|| {
            parser.reset();
            matches!(
                parser.parse(black_box(partial)),
                Ok(basehttp::Status::Partial)
            )
        })
    });
    group.bench_function("httparse", |bencher| {
        bencher.iter(|| {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut request = httparse::Request::new(&mut headers);
            match request.parse(black_box(HEAD)) {
                Ok(httparse::Status::Complete(length)) => black_box(length),
                _ => 0,
            }
        })
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
