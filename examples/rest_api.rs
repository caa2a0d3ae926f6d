//! Python's rest_api.py: a JSON store of items over `BaseHTTPRequestHandler`, with path routing and a query string.
//!
//! - `GET /items?limit=N` lists the items by id (at most N, 100 by default), `GET /items/ID` reads one;
//! - `POST /items` with a JSON object holding `name` stores it and answers 201 with a `Location`;
//! - `DELETE /items/ID` removes one (204); unknown paths and ids get 404, bad JSON or limits 400.
//!
//! Python keeps the items in module globals under a lock; here they are the handler's own state, which every
//! connection shares (one handler value serves them all).
//!
//! Usage: `rest_api [ADDRESS]` (default `127.0.0.1:8080`, the Python's; port 0 picks a free one).

use basehttp::{parse_qs, prelude::*, urlsplit};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Python's `items` and `next_id`.
#[derive(Default)]
struct Store {
    items: BTreeMap<u64, Map<String, Value>>,
    last_id: u64,
}

#[derive(Default)]
struct Handler {
    store: Mutex<Store>,
}

/// Python's `dict(id=item_id, **item)`, where an `id` in the item would raise `TypeError`: here the store's id wins.
fn with_id(id: u64, item: &Map<String, Value>) -> Value {
    let mut object = Map::from_iter([("id".to_owned(), Value::from(id))]);
    object.extend(item.clone().into_iter().filter(|(key, _)| key != "id"));
    Value::Object(object)
}

fn send_json(
    req: &mut HttpRequest<'_>,
    code: u16,
    obj: &Value,
    headers: &[(&str, &str)],
) -> io::Result<()> {
    let body = obj.to_string();
    req.send_response(code, None)?;
    req.send_header("Content-Type", "application/json")?;
    req.send_header("Content-Length", &body.len().to_string())?;
    for (name, value) in headers {
        req.send_header(name, value)?;
    }
    req.end_headers()?;
    req.wfile.write_all(body.as_bytes())
}

fn item_id(path: &str) -> Option<u64> {
    match path.trim_matches('/').split('/').collect::<Vec<_>>()[..] {
        ["items", id] => id.parse().ok(),
        _ => None,
    }
}

/// How many of `count` items Python's `[:limit]` keeps: a negative limit counts from the end.
fn sliced(count: usize, limit: i64) -> usize {
    let magnitude = usize::try_from(limit.unsigned_abs()).unwrap_or(usize::MAX);
    if limit < 0 {
        count.saturating_sub(magnitude)
    } else {
        count.min(magnitude)
    }
}

impl Handler {
    /// Python's `with lock:`; a hook that panicked holding it leaves the items as they were, so they are still served.
    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl BaseHttpRequestHandler for Handler {
    fn do_get(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        let url = urlsplit(&req.path)?;
        if url.path == "/items" {
            let query = parse_qs(&url.query, false);
            let limit = query.get("limit").map_or("100", |values| &values[0]);
            let Ok(limit) = limit.trim().parse::<i64>() else {
                return req.send_error(400, Some("limit must be an integer"));
            };
            let store = self.store();
            let result = store.items.iter().map(|(id, item)| with_id(*id, item));
            let result: Vec<Value> = result.take(sliced(store.items.len(), limit)).collect();
            drop(store);
            return send_json(req, 200, &Value::from(result), &[]);
        }
        let Some(item_id) = item_id(&url.path) else {
            return req.send_error(404, Some("Not found"));
        };
        let item = self.store().items.get(&item_id).cloned();
        match item {
            Some(item) => send_json(req, 200, &with_id(item_id, &item), &[]),
            None => req.send_error(404, Some("No such item")),
        }
    }

    fn do_post(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        if urlsplit(&req.path)?.path != "/items" {
            return req.send_error(404, Some("Not found"));
        }
        let data = match serde_json::from_slice(&req.rfile.read_all()?) {
            Ok(Value::Object(data)) if data.contains_key("name") => data,
            Ok(_) => return req.send_error(400, Some("Bad JSON: name required")),
            Err(error) => return req.send_error(400, Some(&format!("Bad JSON: {error}"))),
        };
        let item_id = {
            let mut store = self.store();
            store.last_id += 1;
            let item_id = store.last_id;
            store.items.insert(item_id, data.clone());
            item_id
        };
        let (created, location) = (with_id(item_id, &data), format!("/items/{item_id}"));
        send_json(req, 201, &created, &[("Location", &location)])
    }

    fn do_delete(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        let item_id = item_id(&urlsplit(&req.path)?.path);
        let found = item_id.and_then(|item_id| self.store().items.remove(&item_id));
        if found.is_none() {
            return req.send_error(404, Some("No such item"));
        }
        req.send_response(204, None)?;
        req.end_headers()
    }
}

fn main() -> io::Result<()> {
    ThreadingHttpServer::new(address_arg("127.0.0.1:8080"), Handler::default())?
        .serve_forever(POLL_INTERVAL)
}
