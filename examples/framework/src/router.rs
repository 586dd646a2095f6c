//! The router: routes of a method and a path pattern, path parameters,
//! `404` and `405` with `Allow`.

use std::fmt;
use std::future::Future;

use albany::http::{header, HeaderValue, Method, StatusCode};
use albany::{from_fn, Application, BoxApplication, Request, Response};

use crate::text;

/// An [`Application`] that sends each request to the handler of the first
/// matching route.
///
/// A route is an HTTP method and a path pattern: segments separated by
/// `/`, each either literal (`users`) or a parameter (`:id`), which matches
/// one non-empty segment and is available to the handler through
/// [`RequestParams`]. Matching is on the percent-decoded path, without the
/// query, segment by segment; a trailing `/` is a segment of its own
/// (`/users/` does not match `/users`).
///
/// - When several patterns match a path, the one with the most literal
///   segments wins, then the first added (`/users/me` before
///   `/users/:id` whatever their order).
/// - A `GET` route also answers `HEAD` (the server sends no body for it,
///   RFC 9110 §9.3.2) unless a `HEAD` route is added for the pattern.
/// - No pattern matches: `404 Not Found`.
/// - A pattern matches but not for the request's method: `405 Method Not
///   Allowed` with an `Allow` header listing the methods the path has
///   (RFC 9110 §15.5.6, §10.2.1).
/// - A path whose percent-encoding is invalid or does not decode to UTF-8:
///   `400 Bad Request`.
///
/// ```
/// use albany::{Body, Request, Response};
/// use albany_mini_framework::{RequestParams, Router};
///
/// let router = Router::new()
///     .get("/", |_request: Request| async { Response::new(Body::from("home")) })
///     .get("/users/:id", |request: Request| async move {
///         let id = request.param("id").unwrap_or_default().to_owned();
///         Response::new(Body::from(format!("user {id}")))
///     });
/// # fn is_app(_: impl albany::Application) {}
/// # is_app(router);
/// ```
#[derive(Default)]
pub struct Router {
    routes: Vec<Route>,
}

struct Route {
    method: Method,
    pattern: Pattern,
    handler: BoxApplication,
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for route in &self.routes {
            list.entry(&format_args!("{} {}", route.method, route.pattern.text));
        }
        list.finish()
    }
}

impl Router {
    /// A router without routes: every request gets `404`.
    pub fn new() -> Self {
        Router::default()
    }

    /// Adds a route: `method` on paths matching `pattern`, answered by
    /// `handler`, an async function or closure of the request.
    ///
    /// # Panics
    ///
    /// If `pattern` does not start with `/`, has an empty parameter name
    /// (`/:`), the same parameter twice, or the same method and pattern was
    /// added before: mistakes in the program, not in a request.
    pub fn route<F, Fut>(self, method: Method, pattern: &str, handler: F) -> Self
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        self.route_application(method, pattern, from_fn(handler))
    }

    /// Adds a route answered by any [`Application`] (another router, an
    /// application wrapped in middleware); see [`Router::route`].
    ///
    /// # Panics
    ///
    /// As [`Router::route`].
    pub fn route_application(
        mut self,
        method: Method,
        pattern: &str,
        application: impl Application,
    ) -> Self {
        let pattern = Pattern::parse(pattern);
        assert!(
            !self
                .routes
                .iter()
                .any(|route| route.method == method && route.pattern.same_shape(&pattern)),
            "the route {method} {} is added twice",
            pattern.text
        );
        self.routes.push(Route {
            method,
            pattern,
            handler: BoxApplication::new(application),
        });
        self
    }

    /// A `GET` route (it answers `HEAD` too); see [`Router::route`].
    ///
    /// # Panics
    ///
    /// As [`Router::route`].
    pub fn get<F, Fut>(self, pattern: &str, handler: F) -> Self
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        self.route(Method::GET, pattern, handler)
    }

    /// A `POST` route; see [`Router::route`].
    ///
    /// # Panics
    ///
    /// As [`Router::route`].
    pub fn post<F, Fut>(self, pattern: &str, handler: F) -> Self
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        self.route(Method::POST, pattern, handler)
    }

    /// A `PUT` route; see [`Router::route`].
    ///
    /// # Panics
    ///
    /// As [`Router::route`].
    pub fn put<F, Fut>(self, pattern: &str, handler: F) -> Self
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        self.route(Method::PUT, pattern, handler)
    }

    /// A `DELETE` route; see [`Router::route`].
    ///
    /// # Panics
    ///
    /// As [`Router::route`].
    pub fn delete<F, Fut>(self, pattern: &str, handler: F) -> Self
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        self.route(Method::DELETE, pattern, handler)
    }

    /// What the router does with a request.
    fn dispatch(&self, method: &Method, path: &str) -> Dispatch<'_> {
        let Some(segments) = decode_path(path) else {
            return Dispatch::BadPath;
        };
        let mut best: Option<(&Pattern, usize)> = None;
        for route in &self.routes {
            if route.pattern.matches(&segments) {
                let literals = route.pattern.literals();
                if best.is_none_or(|(_, most)| literals > most) {
                    best = Some((&route.pattern, literals));
                }
            }
        }
        let Some((pattern, _)) = best else {
            return Dispatch::NotFound;
        };
        let same_pattern = || {
            self.routes
                .iter()
                .filter(move |route| route.pattern.same_shape(pattern))
        };
        let chosen = same_pattern()
            .find(|route| route.method == method)
            .or_else(|| {
                (method == Method::HEAD)
                    .then(|| same_pattern().find(|route| route.method == Method::GET))
                    .flatten()
            });
        match chosen {
            Some(route) => Dispatch::Route(route, route.pattern.params(&segments)),
            None => {
                let mut unique: Vec<&str> = Vec::new();
                for route in same_pattern() {
                    let implied = (route.method == Method::GET).then_some("HEAD");
                    for method in std::iter::once(route.method.as_str()).chain(implied) {
                        if !unique.contains(&method) {
                            unique.push(method);
                        }
                    }
                }
                Dispatch::NotAllowed(unique.join(", "))
            }
        }
    }
}

/// Where a request goes.
enum Dispatch<'a> {
    /// To this route's handler, with these parameters.
    Route(&'a Route, Params),
    /// `400`: the path does not decode.
    BadPath,
    /// `404`: no pattern matches.
    NotFound,
    /// `405`, with this `Allow` value.
    NotAllowed(String),
}

impl Application for Router {
    async fn call(&self, mut request: Request) -> Response {
        match self.dispatch(request.method(), request.uri().path()) {
            Dispatch::Route(route, params) => {
                request.extensions_mut().insert(params);
                route.handler.call(request).await
            }
            Dispatch::BadPath => text(StatusCode::BAD_REQUEST, "Bad Request: invalid path\n"),
            Dispatch::NotFound => text(StatusCode::NOT_FOUND, "Not Found\n"),
            Dispatch::NotAllowed(allow) => {
                let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n");
                let allow =
                    HeaderValue::from_str(&allow).expect("method names are header-safe tokens");
                response.headers_mut().insert(header::ALLOW, allow);
                response
            }
        }
    }
}

/// A path pattern: `/users/:id`.
struct Pattern {
    text: String,
    segments: Vec<Segment>,
}

#[derive(PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
}

impl Pattern {
    fn parse(text: &str) -> Pattern {
        let Some(rest) = text.strip_prefix('/') else {
            panic!("the route pattern `{text}` does not start with `/`");
        };
        let mut segments = Vec::new();
        for part in rest.split('/') {
            let segment = match part.strip_prefix(':') {
                Some("") => panic!("the route pattern `{text}` has a parameter without a name"),
                Some(name) => {
                    assert!(
                        !segments.contains(&Segment::Param(name.to_owned())),
                        "the route pattern `{text}` names the parameter `{name}` twice"
                    );
                    Segment::Param(name.to_owned())
                }
                None => Segment::Literal(part.to_owned()),
            };
            segments.push(segment);
        }
        Pattern {
            text: text.to_owned(),
            segments,
        }
    }

    /// Whether both patterns match the same paths (parameter names aside).
    fn same_shape(&self, other: &Pattern) -> bool {
        self.segments.len() == other.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|pair| match pair {
                    (Segment::Literal(a), Segment::Literal(b)) => a == b,
                    (Segment::Param(_), Segment::Param(_)) => true,
                    _ => false,
                })
    }

    fn matches(&self, path: &[String]) -> bool {
        self.segments.len() == path.len()
            && self
                .segments
                .iter()
                .zip(path)
                .all(|(segment, part)| match segment {
                    Segment::Literal(literal) => literal == part,
                    Segment::Param(_) => !part.is_empty(),
                })
    }

    fn literals(&self) -> usize {
        self.segments
            .iter()
            .filter(|segment| matches!(segment, Segment::Literal(_)))
            .count()
    }

    fn params(&self, path: &[String]) -> Params {
        let pairs = self
            .segments
            .iter()
            .zip(path)
            .filter_map(|(segment, part)| match segment {
                Segment::Param(name) => Some((name.clone(), part.clone())),
                Segment::Literal(_) => None,
            })
            .collect();
        Params { pairs }
    }
}

/// The path's segments after the leading `/`, each percent-decoded
/// (RFC 3986 §2.1); `None` for a path that does not start with `/` (an
/// `OPTIONS *` or CONNECT target), an invalid escape or a segment that is
/// not UTF-8 once decoded.
fn decode_path(path: &str) -> Option<Vec<String>> {
    let rest = path.strip_prefix('/')?;
    rest.split('/').map(percent_decode).collect()
}

fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

/// The path parameters of the route a request matched, by name; in the
/// request's extensions when a [`Router`] calls a handler.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// The percent-decoded value of the parameter `name` (`id` for
    /// `:id`), if the route has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every parameter as `(name, value)`, in the pattern's order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }
}

/// Path parameters from a request routed by a [`Router`].
pub trait RequestParams {
    /// The value of the path parameter `name`; `None` if the route has no
    /// such parameter or the request did not come through a [`Router`].
    fn param(&self, name: &str) -> Option<&str>;
}

impl<B> RequestParams for albany::http::Request<B> {
    fn param(&self, name: &str) -> Option<&str> {
        self.extensions().get::<Params>()?.get(name)
    }
}

#[cfg(test)]
mod tests {
    use albany::{Body, Request, Response};
    use futures_lite::future::block_on;

    use super::*;

    fn echo_params(request: Request) -> impl Future<Output = Response> + Send {
        let params: Vec<String> = request
            .extensions()
            .get::<Params>()
            .map(|params| params.iter().map(|(k, v)| format!("{k}={v}")).collect())
            .unwrap_or_default();
        async move { Response::new(Body::from(params.join("&"))) }
    }

    fn router() -> Router {
        Router::new()
            .get("/users/:id", echo_params)
            .put("/users/:key", echo_params)
            .get("/users/me", |_| async { Response::new(Body::from("me")) })
            .get("/users/:id/posts/:post", echo_params)
    }

    fn call(router: &Router, method: Method, target: &str) -> (u16, String, Option<String>) {
        let mut request = Request::new(Body::empty());
        *request.method_mut() = method;
        *request.uri_mut() = target.parse().unwrap();
        let response = block_on(router.call(request));
        let status = response.status().as_u16();
        let allow = response
            .headers()
            .get(header::ALLOW)
            .map(|value| value.to_str().unwrap().to_owned());
        let body = block_on(response.into_body().to_bytes(1024)).unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap(), allow)
    }

    #[test]
    fn params_literals_first_and_decoding() {
        let router = router();
        assert_eq!(call(&router, Method::GET, "/users/42").1, "id=42");
        assert_eq!(call(&router, Method::PUT, "/users/42").1, "key=42");
        assert_eq!(call(&router, Method::GET, "/users/me").1, "me");
        assert_eq!(call(&router, Method::GET, "/users/a%20b?x=1").1, "id=a b");
        assert_eq!(
            call(&router, Method::GET, "/users/7/posts/9").1,
            "id=7&post=9"
        );
        assert_eq!(call(&router, Method::HEAD, "/users/42").0, 200);
        assert_eq!(call(&router, Method::GET, "/users/%zz").0, 400);
        assert_eq!(call(&router, Method::GET, "/users/%ff").0, 400);
    }

    #[test]
    fn not_found_and_method_not_allowed() {
        let router = router();
        assert_eq!(call(&router, Method::GET, "/users").0, 404);
        assert_eq!(call(&router, Method::GET, "/users/").0, 404);
        assert_eq!(call(&router, Method::GET, "/nope/1").0, 404);
        let (status, _, allow) = call(&router, Method::DELETE, "/users/42");
        assert_eq!(status, 405);
        assert_eq!(allow.as_deref(), Some("GET, HEAD, PUT"));
        // `/users/me` has GET only: its own Allow.
        let (status, _, allow) = call(&router, Method::POST, "/users/me");
        assert_eq!(status, 405);
        assert_eq!(allow.as_deref(), Some("GET, HEAD"));
    }

    #[test]
    #[should_panic(expected = "added twice")]
    fn a_route_added_twice_is_a_program_error() {
        let _ = router().get("/users/:id", echo_params);
    }

    #[test]
    #[should_panic(expected = "does not start with `/`")]
    fn a_pattern_without_a_slash_is_a_program_error() {
        let _ = Router::new().get("users", echo_params);
    }
}
