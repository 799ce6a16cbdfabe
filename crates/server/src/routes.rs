//! The API's routes, in one table: the router mounts them, the response counter labels its
//! counts with them, the 404 message lists them, and a test holds the README's table to them.
use axum::routing::{MethodRouter, get, post};

use super::AppState;
use super::handlers;

pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    mount: fn() -> MethodRouter<AppState>,
}

pub const CHAT_COMPLETIONS: &str = "/v1/chat/completions";
pub const COMPLETIONS: &str = "/v1/completions";

pub const ROUTES: [Route; 5] = [
    Route { method: "POST", path: CHAT_COMPLETIONS, mount: || post(handlers::chat) },
    Route { method: "POST", path: COMPLETIONS, mount: || post(handlers::completions) },
    Route { method: "GET", path: "/v1/models", mount: || get(handlers::models) },
    Route { method: "GET", path: "/health", mount: || get(handlers::health) },
    Route { method: "GET", path: "/metrics", mount: || get(handlers::metrics) },
];

/// Every route, mounted.
pub fn router() -> axum::Router<AppState> {
    ROUTES.iter().fold(axum::Router::new(), |router, route| router.route(route.path, (route.mount)()))
}

/// The label `/metrics` counts a response under: its route, or "other".
pub fn endpoint(path: &str) -> &'static str {
    ROUTES.iter().find(|r| r.path == path).map_or("other", |r| r.path)
}

/// "GET /v1/models, POST /v1/chat/completions, POST /v1/completions": the OpenAI routes.
pub fn openai_routes() -> String {
    let v1 = || ROUTES.iter().filter(|r| r.path.starts_with("/v1/"));
    let ordered = v1().filter(|r| r.method == "GET").chain(v1().filter(|r| r.method != "GET"));
    ordered.map(|r| format!("{} {}", r.method, r.path)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_lists_every_route() {
        let readme = include_str!("../../../README.md");
        for route in &ROUTES {
            let row = format!("| `{} {}` |", route.method, route.path);
            assert!(readme.contains(&row), "README.md has no row {row}");
        }
        assert_eq!(openai_routes(), "GET /v1/models, POST /v1/chat/completions, POST /v1/completions");
        assert_eq!(endpoint("/health"), "/health");
        assert_eq!(endpoint("/v1/chat/completions/x"), "other");
    }
}
