//! Tests of the API clauses of `spec/albany.md` that the `albany` crate
//! implements itself: bodies (§6), join handles (§10), request extensions
//! (§5), upgrades (§14) and applications (§2).
//!
//! These are the clauses that `conformance/src/coverage.rs` lists as
//! "tested by crates/albany/tests/clauses.rs". Each test's name starts with
//! the id of the clause it checks, and its doc comment quotes that id. A
//! test marked `#[ignore = "spec/code disagreement: ..."]` checks a clause
//! the code does not meet.
//!
//! No runtime crate is used: `Threads` runs each task on a thread of its
//! own, and `Deferred` keeps tasks and blocking jobs until the test runs or
//! drops them.

use std::cell::Cell;
use std::collections::VecDeque;
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use albany::body::{CollectError, Frame, LengthLimitError};
use albany::bytes::Bytes;
use albany::http::{HeaderMap, HeaderValue};
use albany::http_body::SizeHint;
use albany::rt::{BoxBlocking, BoxTask, Handle, Runtime, Sleep};
use albany::shutdown::ShutdownTrigger;
use albany::upgrade::{OnUpgrade, UpgradeError, Upgraded};
use albany::{
    from_fn, Application, Body, BoxApplication, ConnectionInfo, Request, RequestExt, Response,
};
use futures_lite::future::block_on;
use futures_lite::io::{AsyncRead, AsyncReadExt, Cursor};
use futures_lite::{stream, Stream, StreamExt};

/// How long a test waits for something another thread does.
const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// Allocation counting
// ---------------------------------------------------------------------------

/// A global allocator that counts the allocations of the current thread
/// while [`counting::allocations`] runs a closure.
mod counting {
    #![allow(unsafe_code)]

    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static COUNTING: Cell<bool> = const { Cell::new(false) };
        static COUNT: Cell<usize> = const { Cell::new(0) };
    }

    fn record() {
        let counting = COUNTING.try_with(Cell::get).unwrap_or(false);
        if counting {
            let _ = COUNT.try_with(|count| count.set(count.get() + 1));
        }
    }

    /// The system allocator, counting allocations.
    pub(super) struct Counting;

    // SAFETY: every method forwards to `System` with the caller's arguments
    // unchanged, so `System`'s guarantees hold; the thread-local counters
    // (const-initialized, without destructors) do not allocate.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            record();
            // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
            unsafe { System.alloc(layout) }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            record();
            // SAFETY: as for `alloc`.
            unsafe { System.alloc_zeroed(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: `ptr` was allocated by `System` with `layout`.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            record();
            // SAFETY: `ptr` and `layout` come from `System`; the caller
            // upholds `realloc`'s size contract.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    /// Runs `f` and returns its result with the number of allocations it
    /// made on this thread.
    pub(super) fn allocations<R>(f: impl FnOnce() -> R) -> (R, usize) {
        COUNT.with(|count| count.set(0));
        COUNTING.with(|counting| counting.set(true));
        let result = f();
        COUNTING.with(|counting| counting.set(false));
        (result, COUNT.with(Cell::get))
    }
}

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

use counting::allocations;

// ---------------------------------------------------------------------------
// Polling helpers
// ---------------------------------------------------------------------------

type Polled = Option<Result<Frame<Bytes>, albany::Error>>;

/// Polls `future` once with a waker that does nothing.
fn try_now<F: Future>(future: F) -> Option<F::Output> {
    let future = pin!(future);
    match future.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// Polls `body` once, with a waker that does nothing.
fn poll_body(body: &mut Body) -> Poll<Polled> {
    body.poll_frame(&mut Context::from_waker(Waker::noop()))
}

/// The body's next frame, which must be ready.
fn next(body: &mut Body) -> Polled {
    match poll_body(body) {
        Poll::Ready(polled) => polled,
        Poll::Pending => panic!("the body is pending"),
    }
}

/// The data of a polled frame, which must be a data frame.
fn data(polled: Polled) -> Bytes {
    polled
        .expect("a frame, not the end of the body")
        .expect("a frame, not an error")
        .into_data()
        .expect("a data frame, not trailers")
}

/// The error of a polled frame, which must be an error.
fn error_of(polled: Polled) -> albany::Error {
    match polled {
        Some(Err(error)) => error,
        Some(Ok(frame)) => panic!("expected an error, got a frame: {frame:?}"),
        None => panic!("expected an error, got the end of the body"),
    }
}

/// Polls `body` to its end or first error, returning the data frames.
fn drain(body: &mut Body) -> Vec<Bytes> {
    let mut frames = Vec::new();
    while let Some(Ok(frame)) = next(body) {
        if let Ok(data) = frame.into_data() {
            frames.push(data);
        }
    }
    frames
}

/// Runs `f` on a thread of its own and waits at most [`WAIT`] for its result.
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let _ = sender.send(f());
    });
    receiver
        .recv_timeout(WAIT)
        .unwrap_or_else(|_| panic!("{what}: no result within {WAIT:?}"))
}

fn header_map(fields: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in fields {
        map.append(*name, HeaderValue::from_static(value));
    }
    map
}

fn request(path: &str) -> Request {
    albany::http::Request::builder()
        .uri(path)
        .body(Body::empty())
        .expect("a valid request")
}

/// An error type of the tests' own.
#[derive(Debug)]
struct Broken(&'static str);

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "broken: {}", self.0)
    }
}

impl StdError for Broken {}

/// Finds an error of type `E` in `error`'s chain of sources.
fn find_in_chain<'a, E: StdError + 'static>(
    mut error: &'a (dyn StdError + 'static),
) -> Option<&'a E> {
    loop {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        error = error.source()?;
    }
}

// ---------------------------------------------------------------------------
// Scripted bodies, streams and readers
// ---------------------------------------------------------------------------

/// One step of a [`Scripted`] body: what a poll returns, and the size hint
/// the body reports after it (unchanged when `None`).
type Step = (Option<Result<Frame<Bytes>, io::Error>>, Option<SizeHint>);

/// A foreign `http_body::Body` that returns scripted frames, counts its
/// polls, and panics when polled past its script.
struct Scripted {
    steps: VecDeque<Step>,
    hint: SizeHint,
    end: bool,
    polls: Arc<AtomicUsize>,
}

impl Scripted {
    fn new(hint: SizeHint) -> Self {
        Scripted {
            steps: VecDeque::new(),
            hint,
            end: false,
            polls: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn data(mut self, data: &'static str) -> Self {
        self.steps
            .push_back((Some(Ok(Frame::data(Bytes::from(data)))), None));
        self
    }

    fn error(mut self, error: io::Error) -> Self {
        self.steps.push_back((Some(Err(error)), None));
        self
    }

    fn end(mut self) -> Self {
        self.steps.push_back((None, None));
        self
    }

    /// Sets the size hint reported after the last step.
    fn then_hint(mut self, hint: SizeHint) -> Self {
        self.steps.back_mut().expect("a step").1 = Some(hint);
        self
    }

    fn polls(&self) -> Arc<AtomicUsize> {
        self.polls.clone()
    }
}

impl albany::http_body::Body for Scripted {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        let (item, hint) = self
            .steps
            .pop_front()
            .expect("the body was polled past its script");
        if let Some(hint) = hint {
            self.hint = hint;
        }
        if item.is_none() {
            self.end = true;
        }
        Poll::Ready(item)
    }

    fn is_end_stream(&self) -> bool {
        self.end
    }

    fn size_hint(&self) -> SizeHint {
        self.hint
    }
}

fn lower_bound(lower: u64) -> SizeHint {
    let mut hint = SizeHint::new();
    hint.set_lower(lower);
    hint
}

fn range(lower: u64, upper: u64) -> SizeHint {
    let mut hint = SizeHint::new();
    hint.set_upper(upper);
    hint.set_lower(lower);
    hint
}

/// A stream that returns scripted items, also after returning `None`.
struct ScriptStream<T>(VecDeque<Option<T>>);

impl<T: Unpin> Stream for ScriptStream<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<T>> {
        Poll::Ready(self.0.pop_front().flatten())
    }
}

/// A reader that returns scripted reads and records the size of each
/// buffer it is given; it panics when read past its script.
struct ScriptReader {
    reads: VecDeque<io::Result<&'static [u8]>>,
    buffers: Arc<Mutex<Vec<usize>>>,
}

impl ScriptReader {
    fn new(reads: Vec<io::Result<&'static [u8]>>) -> Self {
        ScriptReader {
            reads: reads.into(),
            buffers: Arc::default(),
        }
    }
}

impl AsyncRead for ScriptReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.buffers.lock().unwrap().push(buf.len());
        match self.reads.pop_front().expect("read past the script") {
            Ok(bytes) => {
                assert!(bytes.len() <= buf.len(), "the script's read does not fit");
                buf[..bytes.len()].copy_from_slice(bytes);
                Poll::Ready(Ok(bytes.len()))
            }
            Err(error) => Poll::Ready(Err(error)),
        }
    }
}

/// A reader of `remaining` bytes (`i as u8` at offset `i`) that fills every
/// buffer it is given, recording each buffer's size.
struct FillReader {
    offset: usize,
    remaining: usize,
    buffers: Arc<Mutex<Vec<usize>>>,
}

impl AsyncRead for FillReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.buffers.lock().unwrap().push(buf.len());
        let n = self.remaining.min(buf.len());
        for (i, byte) in buf[..n].iter_mut().enumerate() {
            *byte = (self.offset + i) as u8;
        }
        self.offset += n;
        self.remaining -= n;
        Poll::Ready(Ok(n))
    }
}

// ---------------------------------------------------------------------------
// Runtimes and synchronisation for the rt tests
// ---------------------------------------------------------------------------

/// A runtime that runs each task, timer and blocking function on a thread
/// of its own.
struct Threads;

impl Runtime for Threads {
    fn spawn(&self, task: BoxTask) {
        thread::spawn(move || block_on(task));
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        Sleep::new(Timer::new(deadline))
    }

    fn spawn_blocking(&self, f: BoxBlocking) {
        thread::spawn(f);
    }
}

/// A timer future: a thread sleeps until the deadline, then wakes it.
struct Timer {
    deadline: Instant,
    state: Arc<Mutex<TimerState>>,
}

#[derive(Default)]
struct TimerState {
    started: bool,
    fired: bool,
    waker: Option<Waker>,
}

impl Timer {
    fn new(deadline: Instant) -> Self {
        Timer {
            deadline,
            state: Arc::default(),
        }
    }
}

impl Future for Timer {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        let mut state = self.state.lock().unwrap();
        if state.fired {
            return Poll::Ready(());
        }
        state.waker = Some(cx.waker().clone());
        if !state.started {
            state.started = true;
            let (shared, deadline) = (self.state.clone(), self.deadline);
            thread::spawn(move || {
                thread::sleep(deadline.saturating_duration_since(Instant::now()));
                let waker = {
                    let mut state = shared.lock().unwrap();
                    state.fired = true;
                    state.waker.take()
                };
                if let Some(waker) = waker {
                    waker.wake();
                }
            });
        }
        Poll::Pending
    }
}

/// A runtime that keeps tasks and blocking functions until the test runs
/// or drops them.
#[derive(Clone, Default)]
struct Deferred {
    queues: Arc<Queues>,
}

#[derive(Default)]
struct Queues {
    tasks: Mutex<Vec<BoxTask>>,
    jobs: Mutex<Vec<BoxBlocking>>,
}

impl Deferred {
    fn take_tasks(&self) -> Vec<BoxTask> {
        std::mem::take(&mut *self.queues.tasks.lock().unwrap())
    }

    fn take_jobs(&self) -> Vec<BoxBlocking> {
        std::mem::take(&mut *self.queues.jobs.lock().unwrap())
    }
}

impl Runtime for Deferred {
    fn spawn(&self, task: BoxTask) {
        self.queues.tasks.lock().unwrap().push(task);
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        Sleep::new(Timer::new(deadline))
    }

    fn spawn_blocking(&self, f: BoxBlocking) {
        self.queues.jobs.lock().unwrap().push(f);
    }
}

/// A signal opened by the test. Like a oneshot channel, it keeps only the
/// waker of its latest poll, as the `Future` contract allows.
#[derive(Clone, Default)]
struct Gate {
    state: Arc<Mutex<GateState>>,
}

#[derive(Default)]
struct GateState {
    open: bool,
    polls: usize,
    waker: Option<Waker>,
}

impl Gate {
    fn open(&self) {
        let waker = {
            let mut state = self.state.lock().unwrap();
            state.open = true;
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Waits until the gate was polled `polls` times.
    fn wait_for_polls(&self, polls: usize) {
        let start = Instant::now();
        while self.state.lock().unwrap().polls < polls {
            assert!(
                start.elapsed() < WAIT,
                "the gate was not polled {polls} times"
            );
            thread::sleep(Duration::from_millis(1));
        }
    }

    fn opened(&self) -> Opened {
        Opened { gate: self.clone() }
    }
}

struct Opened {
    gate: Gate,
}

impl Future for Opened {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.gate.state.lock().unwrap();
        state.polls += 1;
        if state.open {
            Poll::Ready(())
        } else {
            state.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// A future that is pending forever without ever waking itself; it counts
/// its polls, reports its first poll, and reports when it is dropped.
struct Probe {
    polls: Arc<AtomicUsize>,
    first_poll: Option<mpsc::Sender<()>>,
    dropped: mpsc::Sender<()>,
}

impl Future for Probe {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        if let Some(first_poll) = self.first_poll.take() {
            let _ = first_poll.send(());
        }
        Poll::Pending
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.dropped.send(());
    }
}

/// A waker that records that it was woken.
#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------
// §6 Body
// ---------------------------------------------------------------------------

/// Bodies of every kind that yield `partial` and then fail.
fn failing_bodies() -> Vec<(&'static str, Body)> {
    let stream = Body::from_stream(stream::iter(vec![
        Ok::<_, Broken>("partial"),
        Err(Broken("stream")),
    ]));
    let frames = Body::from_frame_stream(stream::iter(vec![
        Ok::<_, Broken>(Frame::data(Bytes::from("partial"))),
        Err(Broken("frames")),
    ]));
    let reader = Body::from_reader(ScriptReader::new(vec![
        Ok(b"partial"),
        Err(io::Error::other(Broken("reader"))),
    ]));
    let foreign = Body::new(
        Scripted::new(SizeHint::new())
            .data("partial")
            .error(io::Error::other(Broken("foreign")))
            .end()
            .end(),
    );
    let (mut sender, aborted) = Body::channel(64);
    sender.try_send("partial").unwrap();
    sender.abort();
    let (mut sender, aborted_with) = Body::channel(64);
    sender.try_send("partial").unwrap();
    sender.abort_with(Broken("abort_with"));
    let (mut sender, dropped) = Body::channel(64);
    sender.try_send("partial").unwrap();
    drop(sender);
    vec![
        ("from_stream", stream),
        ("from_frame_stream", frames),
        ("from_reader", reader),
        ("Body::new", foreign),
        ("channel + abort", aborted),
        ("channel + abort_with", aborted_with),
        ("channel + dropped sender", dropped),
    ]
}

/// **[BODY-2]** An error means the body is incomplete: each consumer in the
/// crate (`collect`, `to_bytes`, `into_reader`, `into_data_stream`,
/// `into_frame_stream`, `limit`) reports a body that ended with an error as
/// failed, never as a complete body.
#[test]
fn body_2_consumers_treat_a_failed_body_as_incomplete() {
    let count = failing_bodies().len();
    for i in 0..count {
        let take = || failing_bodies().swap_remove(i);
        let (name, body) = take();
        assert!(block_on(body.collect(1024)).is_err(), "{name}: collect");
        let (name, body) = take();
        assert!(block_on(body.to_bytes(1024)).is_err(), "{name}: to_bytes");

        let (name, body) = take();
        let mut out = Vec::new();
        let read = block_on(body.into_reader().read_to_end(&mut out));
        assert!(
            read.is_err(),
            "{name}: into_reader read to the end: {read:?}"
        );

        let (name, body) = take();
        let items: Vec<_> = block_on(body.into_data_stream().take(16).collect());
        assert!(
            matches!(items.last(), Some(Err(_))),
            "{name}: into_data_stream ended without the error"
        );

        let (name, body) = take();
        let items: Vec<_> = block_on(body.into_frame_stream().take(16).collect());
        assert!(
            matches!(items.last(), Some(Err(_))),
            "{name}: into_frame_stream ended without the error"
        );

        let (name, body) = take();
        let mut limited = body.limit(1 << 20);
        assert_eq!(data(next(&mut limited)), "partial", "{name}: limit");
        error_of(next(&mut limited));
    }
}

/// Polls `body` three more times and checks each poll is `Ready(None)`.
fn assert_stays_ended(name: &str, body: &mut Body) {
    for _ in 0..3 {
        match poll_body(body) {
            Poll::Ready(None) => {}
            other => panic!("{name}: polled after its end, the body returned {other:?}"),
        }
    }
}

/// **[BODY-4]** A body made by this crate's constructors returns
/// `Ready(None)` when polled after `Ready(None)`, even when what it wraps
/// would yield more.
#[test]
fn body_4_constructed_bodies_return_none_after_the_end() {
    let (mut finished, finished_body) = Body::channel(64);
    finished.try_send("a").unwrap();
    finished.finish();
    let (mut trailed, trailed_body) = Body::channel(64);
    trailed.try_send("a").unwrap();
    block_on(trailed.send_trailers(header_map(&[("x-t", "1")]))).unwrap();
    let bodies = vec![
        ("empty", Body::empty()),
        ("Bytes", Body::from(Bytes::from("abc"))),
        ("empty Bytes", Body::from(Bytes::new())),
        ("Vec", Body::from(vec![1u8, 2, 3])),
        ("String", Body::from(String::from("abc"))),
        ("&str", Body::from("abc")),
        ("&[u8]", Body::from(&b"abc"[..])),
        ("channel + finish", finished_body),
        ("channel + send_trailers", trailed_body),
        (
            "from_stream",
            Body::from_stream(ScriptStream(VecDeque::from(vec![
                Some(Ok::<_, io::Error>("a")),
                None,
                Some(Ok("resurrected")),
            ]))),
        ),
        (
            "from_frame_stream",
            Body::from_frame_stream(ScriptStream(VecDeque::from(vec![
                Some(Ok::<_, io::Error>(Frame::data(Bytes::from("a")))),
                None,
                Some(Ok(Frame::data(Bytes::from("resurrected")))),
            ]))),
        ),
        (
            "from_reader",
            Body::from_reader(ScriptReader::new(vec![Ok(b"a"), Ok(b""), Ok(b"late")])),
        ),
        (
            "limit",
            Body::from_stream(stream::iter(vec![Ok::<_, io::Error>("a")])).limit(10),
        ),
    ];
    for (name, mut body) in bodies {
        while let Some(polled) = next(&mut body) {
            assert!(polled.is_ok(), "{name}: failed: {polled:?}");
        }
        assert_stays_ended(name, &mut body);
    }
}

/// **[BODY-4]** A body made by this crate's constructors returns
/// `Ready(None)` when polled after an error, even when what it wraps would
/// yield more.
#[test]
fn body_4_constructed_bodies_return_none_after_an_error() {
    let mut bodies = failing_bodies();
    bodies.retain(|(name, _)| *name != "Body::new");
    bodies.push((
        "from_stream with items after the error",
        Body::from_stream(stream::iter(vec![
            Ok::<_, Broken>("a"),
            Err(Broken("stream")),
            Ok("after"),
        ])),
    ));
    bodies.push((
        "from_frame_stream with items after the error",
        Body::from_frame_stream(stream::iter(vec![
            Err(Broken("frames")),
            Ok(Frame::data(Bytes::from("after"))),
        ])),
    ));
    bodies.push((
        "from_reader with reads after the error",
        Body::from_reader(ScriptReader::new(vec![
            Err(io::Error::other("read")),
            Ok(b"after"),
        ])),
    ));
    bodies.push((
        "limit exceeded",
        Body::from_stream(stream::iter(vec![Ok::<_, io::Error>("abc"), Ok("def")])).limit(4),
    ));
    bodies.push(("limit over a size hint", Body::from("0123456789").limit(4)));
    for (name, mut body) in bodies {
        loop {
            match next(&mut body) {
                Some(Ok(_)) => {}
                Some(Err(_)) => break,
                None => panic!("{name}: ended without an error"),
            }
        }
        assert_stays_ended(name, &mut body);
    }
}

/// **[BODY-4]** `Body::new` forwards whatever the wrapped body does, also
/// after its `Ready(None)` and after its errors.
#[test]
fn body_4_body_new_forwards_what_the_wrapped_body_does() {
    let scripted = Scripted::new(SizeHint::new())
        .data("a")
        .end()
        .data("b")
        .error(io::Error::other("first"))
        .data("c")
        .error(io::Error::other("second"))
        .end();
    let polls = scripted.polls();
    let mut body = Body::new(scripted);
    assert_eq!(data(next(&mut body)), "a");
    assert!(next(&mut body).is_none());
    assert_eq!(data(next(&mut body)), "b");
    assert_eq!(error_of(next(&mut body)).to_string(), "first");
    assert_eq!(data(next(&mut body)), "c");
    assert_eq!(error_of(next(&mut body)).to_string(), "second");
    assert!(next(&mut body).is_none());
    assert_eq!(polls.load(Ordering::SeqCst), 7);
}

/// **[BODY-7]** `Body::empty()` and `Body::from` of `Bytes`, `Vec<u8>`,
/// `String`, `&'static str` and `&'static [u8]` have an exact size hint,
/// their length.
#[test]
fn body_7_bodies_of_bytes_have_exact_size_hints() {
    let bodies = [
        ("empty", Body::empty(), 0),
        ("Bytes", Body::from(Bytes::from("abc")), 3),
        ("empty Bytes", Body::from(Bytes::new()), 0),
        ("Vec", Body::from(vec![7u8; 1000]), 1000),
        ("empty Vec", Body::from(Vec::new()), 0),
        ("String", Body::from(String::from("hello")), 5),
        ("&str", Body::from("four"), 4),
        ("empty &str", Body::from(""), 0),
        ("&[u8]", Body::from(&b"sixsix"[..]), 6),
    ];
    for (name, body, length) in bodies {
        let hint = body.size_hint();
        assert_eq!(hint.exact(), Some(length), "{name}: {hint:?}");
    }
}

/// **[BODY-7]** The bodies of `Body::from` do not copy the data: the frame
/// they yield points at the original bytes.
#[test]
fn body_7_bodies_of_bytes_do_not_copy() {
    let bytes = Bytes::from(vec![1u8; 100]);
    let pointer = bytes.as_ptr();
    assert_eq!(
        data(next(&mut Body::from(bytes))).as_ptr(),
        pointer,
        "Bytes"
    );

    let vec = vec![2u8; 100];
    let pointer = vec.as_ptr();
    assert_eq!(data(next(&mut Body::from(vec))).as_ptr(), pointer, "Vec");

    let string = "three".repeat(20);
    let pointer = string.as_ptr();
    assert_eq!(
        data(next(&mut Body::from(string))).as_ptr(),
        pointer,
        "String"
    );

    let text: &'static str = "a static string";
    assert_eq!(
        data(next(&mut Body::from(text))).as_ptr(),
        text.as_ptr(),
        "&str"
    );

    let slice: &'static [u8] = b"a static slice";
    assert_eq!(
        data(next(&mut Body::from(slice))).as_ptr(),
        slice.as_ptr(),
        "&[u8]"
    );
}

/// **[BODY-7]** `Body::empty()` and a body of one `Bytes` value do not
/// allocate: neither to be made, nor to be read to the end.
#[test]
fn body_7_empty_and_bytes_bodies_do_not_allocate() {
    let ((), count) = allocations(|| {
        let mut body = Body::empty();
        assert_eq!(body.size_hint().exact(), Some(0));
        assert!(body.is_end_stream());
        assert!(next(&mut body).is_none());
    });
    assert_eq!(count, 0, "Body::empty() allocated");

    for bytes in [Bytes::from(vec![1u8; 64]), Bytes::from_static(b"static")] {
        let expected = bytes.clone();
        let (frame, count) = allocations(move || {
            let mut body = Body::from(bytes);
            assert!(body.size_hint().exact().is_some());
            let frame = data(next(&mut body));
            assert!(next(&mut body).is_none());
            frame
        });
        assert_eq!(frame, expected);
        assert_eq!(count, 0, "a body of one Bytes value allocated");
    }
}

/// **[BODY-8]** `Body::new(b)` keeps `b`'s size hint and end-of-stream
/// state, before and after frames are read.
#[test]
fn body_8_new_keeps_size_hint_and_end_of_stream() {
    let body = Body::new(Scripted::new(range(2, 10)).data("ab"));
    assert_eq!(body.size_hint().lower(), 2);
    assert_eq!(body.size_hint().upper(), Some(10));
    assert!(!body.is_end_stream());

    let body = Body::new(Scripted::new(lower_bound(7)).data("ab"));
    assert_eq!(body.size_hint().lower(), 7);
    assert_eq!(body.size_hint().upper(), None);

    let mut body = Body::new(http_body_util::Full::new(Bytes::from("abc")));
    assert_eq!(body.size_hint().exact(), Some(3));
    assert!(!body.is_end_stream());
    assert_eq!(data(next(&mut body)), "abc");
    assert_eq!(body.size_hint().exact(), Some(0));
    assert!(body.is_end_stream());

    let body = Body::new(http_body_util::Empty::<Bytes>::new());
    assert_eq!(body.size_hint().exact(), Some(0));
    assert!(body.is_end_stream());

    let mut body = Body::new(
        Scripted::new(SizeHint::with_exact(5))
            .data("ab")
            .then_hint(SizeHint::with_exact(3))
            .data("cde")
            .then_hint(SizeHint::with_exact(0))
            .end(),
    );
    assert_eq!(body.size_hint().exact(), Some(5));
    assert_eq!(data(next(&mut body)), "ab");
    assert_eq!(body.size_hint().exact(), Some(3));
    assert_eq!(data(next(&mut body)), "cde");
    assert_eq!(body.size_hint().exact(), Some(0));
    assert!(!body.is_end_stream());
    assert!(next(&mut body).is_none());
    assert!(body.is_end_stream());
}

/// A foreign body whose size hint and end-of-stream state change without
/// being polled, as those of a body fed by another task can.
struct Watched {
    end: Arc<AtomicBool>,
    remaining: Arc<AtomicU64>,
}

impl albany::http_body::Body for Watched {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.end.load(Ordering::SeqCst)
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining.load(Ordering::SeqCst))
    }
}

/// **[BODY-8]** `Body::new(b)` keeps `b`'s size hint and end-of-stream
/// state also when they change between polls.
#[test]
fn body_8_new_keeps_size_hint_and_end_of_stream_that_change_between_polls() {
    let end = Arc::new(AtomicBool::new(false));
    let remaining = Arc::new(AtomicU64::new(10));
    let mut body = Body::new(Watched {
        end: end.clone(),
        remaining: remaining.clone(),
    });
    assert_eq!(body.size_hint().exact(), Some(10));
    assert!(!body.is_end_stream());
    assert!(poll_body(&mut body).is_pending());
    remaining.store(0, Ordering::SeqCst);
    end.store(true, Ordering::SeqCst);
    assert_eq!(body.size_hint().exact(), Some(0), "the size hint is stale");
    assert!(body.is_end_stream(), "the end-of-stream state is stale");
}

/// **[BODY-8]** `Body::new(b)` turns `b`'s errors into `albany::Error`,
/// which gives the original error back.
#[test]
fn body_8_new_turns_errors_into_albany_errors() {
    let mut body = Body::new(Scripted::new(SizeHint::new()).error(io::Error::new(
        io::ErrorKind::ConnectionReset,
        "reset by the test",
    )));
    let error: albany::Error = error_of(next(&mut body));
    let original = error
        .downcast_ref::<io::Error>()
        .expect("the albany::Error wraps the body's io::Error");
    assert_eq!(original.kind(), io::ErrorKind::ConnectionReset);
    assert_eq!(error.to_string(), "reset by the test");

    let failing = http_body_util::StreamBody::new(stream::iter(vec![Err::<Frame<Bytes>, Broken>(
        Broken("custom"),
    )]));
    let mut body = Body::new(failing);
    let error = error_of(next(&mut body));
    assert_eq!(error.downcast_ref::<Broken>().unwrap().0, "custom");
}

/// **[BODY-8]** `Body::new(b)` returns `b` unchanged when `b` is a `Body`:
/// no allocation, the same kind, the same data, the same channel.
#[test]
fn body_8_new_returns_a_body_unchanged() {
    let bytes = Bytes::from(vec![5u8; 32]);
    let body = Body::from(bytes.clone());
    let debug = format!("{body:?}");
    let (mut same, count) = allocations(move || Body::new(body));
    assert_eq!(count, 0, "Body::new of a Body allocated");
    assert_eq!(format!("{same:?}"), debug);
    assert_eq!(data(next(&mut same)).as_ptr(), bytes.as_ptr());

    let body = Body::empty();
    let (same, count) = allocations(move || Body::new(body));
    assert_eq!(count, 0, "Body::new of Body::empty() allocated");
    assert_eq!(format!("{same:?}"), format!("{:?}", Body::empty()));

    let (mut sender, body) = Body::channel(8);
    let debug = format!("{body:?}");
    let (mut same, count) = allocations(move || Body::new(body));
    assert_eq!(count, 0, "Body::new of a channel body allocated");
    assert_eq!(format!("{same:?}"), debug);
    sender.try_send("x").unwrap();
    assert_eq!(data(next(&mut same)), "x");
    drop(same);
    assert!(sender.is_closed(), "the body is the channel's own");

    let body = Body::from_stream(stream::iter(vec![Ok::<_, io::Error>("s")]));
    let debug = format!("{body:?}");
    let (mut same, count) = allocations(move || Body::new(body));
    assert_eq!(count, 0, "Body::new of a stream body allocated");
    assert_eq!(format!("{same:?}"), debug);
    assert_eq!(data(next(&mut same)), "s");
}

fn assert_unknown(name: &str, hint: SizeHint) {
    assert_eq!(hint.lower(), 0, "{name}: {hint:?}");
    assert_eq!(hint.upper(), None, "{name}: {hint:?}");
}

/// **[BODY-9]** Bodies from `channel`, `from_stream`, `from_frame_stream`
/// and `from_reader` have an unknown size hint, whatever their source
/// knows, before, while and after they are read.
#[test]
fn body_9_streamed_bodies_have_unknown_size_hints() {
    let (mut sender, channel) = Body::channel(64);
    sender.try_send("abc").unwrap();
    sender.finish();
    let bodies = vec![
        ("channel", channel),
        (
            "from_stream",
            Body::from_stream(stream::iter(vec![Ok::<_, io::Error>("abc"), Ok("def")])),
        ),
        (
            "from_frame_stream",
            Body::from_frame_stream(stream::iter(vec![
                Ok::<_, io::Error>(Frame::data(Bytes::from("abc"))),
                Ok(Frame::data(Bytes::from("def"))),
            ])),
        ),
        (
            "from_reader",
            Body::from_reader(Cursor::new(b"abcdef".to_vec())),
        ),
    ];
    for (name, mut body) in bodies {
        assert_unknown(name, body.size_hint());
        assert!(next(&mut body).is_some_and(|frame| frame.is_ok()));
        assert_unknown(name, body.size_hint());
        while next(&mut body).is_some() {}
        assert_unknown(name, body.size_hint());
    }
}

/// **[BODY-9]** `from_reader` reads up to 16 KiB at a time.
#[test]
fn body_9_from_reader_reads_at_most_16_kib_at_a_time() {
    const TOTAL: usize = 100_000;
    let buffers = Arc::new(Mutex::new(Vec::new()));
    let mut body = Body::from_reader(FillReader {
        offset: 0,
        remaining: TOTAL,
        buffers: buffers.clone(),
    });
    let mut all = Vec::new();
    for frame in drain(&mut body) {
        assert!(frame.len() <= 16 * 1024, "a frame of {} bytes", frame.len());
        all.extend_from_slice(&frame);
    }
    assert_eq!(all.len(), TOTAL);
    assert!(all.iter().enumerate().all(|(i, byte)| *byte == i as u8));
    let buffers = buffers.lock().unwrap();
    assert!(buffers.len() > 1);
    for size in buffers.iter() {
        assert!(*size <= 16 * 1024, "a read into {size} bytes");
        assert!(*size > 0, "a read into an empty buffer");
    }
}

/// **[BODY-9]** `from_reader` reads until a read returns 0, and no further;
/// short reads do not end the body.
#[test]
fn body_9_from_reader_reads_until_a_read_returns_0() {
    let reader = ScriptReader::new(vec![Ok(b"hello"), Ok(b"!"), Ok(b""), Ok(b"late")]);
    let buffers = reader.buffers.clone();
    let mut body = Body::from_reader(reader);
    assert_eq!(data(next(&mut body)), "hello");
    assert_eq!(data(next(&mut body)), "!");
    assert!(next(&mut body).is_none());
    assert!(next(&mut body).is_none());
    assert_eq!(buffers.lock().unwrap().len(), 3, "read after a read of 0");
}

/// **[BODY-10]** `Body` is `Send`, `Sync` and `Unpin`.
#[test]
fn body_10_body_is_send_sync_and_unpin() {
    fn send_sync_unpin<T: Send + Sync + Unpin>(value: T) -> T {
        value
    }
    let (_sender, channel) = Body::channel(1);
    for body in [
        Body::empty(),
        Body::from("full"),
        channel,
        Body::from_stream(stream::iter(vec![Ok::<_, io::Error>("s")])),
    ] {
        let mut body = send_sync_unpin(body);
        // Unpin: polled through `Pin::new` on a plain `&mut`.
        let _ = Pin::new(&mut body);
    }
}

/// A body of two data chunks and trailers.
fn body_with_trailers() -> Body {
    Body::from_frame_stream(stream::iter(vec![
        Ok::<_, io::Error>(Frame::data(Bytes::from("ab"))),
        Ok(Frame::data(Bytes::from("cd"))),
        Ok(Frame::trailers(header_map(&[("x-check", "1")]))),
    ]))
}

/// A channel body of two data chunks and trailers.
fn channel_with_trailers() -> Body {
    let (mut sender, body) = Body::channel(64);
    sender.try_send("ab").unwrap();
    sender.try_send("cd").unwrap();
    block_on(sender.send_trailers(header_map(&[("x-check", "1")]))).unwrap();
    body
}

/// **[BODY-11]** `into_data_stream` and `into_reader` skip trailers;
/// `into_frame_stream` keeps them.
#[test]
fn body_11_data_stream_and_reader_skip_trailers_frame_stream_keeps_them() {
    for make in [body_with_trailers, channel_with_trailers] {
        let items: Vec<_> = block_on(make().into_data_stream().collect());
        let chunks: Vec<Bytes> = items.into_iter().map(Result::unwrap).collect();
        assert_eq!(chunks, ["ab", "cd"]);

        let mut out = Vec::new();
        block_on(make().into_reader().read_to_end(&mut out)).unwrap();
        assert_eq!(out, b"abcd");

        let frames: Vec<_> = block_on(make().into_frame_stream().collect());
        let frames: Vec<Frame<Bytes>> = frames.into_iter().map(Result::unwrap).collect();
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0].data_ref().unwrap(), "ab");
        assert_eq!(frames[1].data_ref().unwrap(), "cd");
        assert_eq!(frames[2].trailers_ref().unwrap()["x-check"], "1");
    }
}

/// **[BODY-11]** `into_reader` returns a body error as an `io::Error` of
/// kind `Other` (whatever the kind of the body's own error), after the data
/// before it.
#[test]
fn body_11_reader_returns_a_body_error_as_io_error_of_kind_other() {
    let body = Body::from_stream(stream::iter(vec![
        Ok("ab"),
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "reset by the test",
        )),
    ]));
    let mut out = Vec::new();
    let read = block_on(body.into_reader().read_to_end(&mut out)).unwrap_err();
    assert_eq!(out, b"ab");
    assert_eq!(read.kind(), io::ErrorKind::Other);
    let inner = read.get_ref().expect("the io::Error wraps the body error");
    let original = find_in_chain::<io::Error>(inner).expect("the body error is in the chain");
    assert_eq!(original.kind(), io::ErrorKind::ConnectionReset);

    let (mut sender, body) = Body::channel(64);
    sender.try_send("cd").unwrap();
    sender.abort_with(Broken("aborted"));
    let mut reader = body.into_reader();
    let mut buffer = [0u8; 16];
    assert_eq!(block_on(reader.read(&mut buffer)).unwrap(), 2);
    let read = block_on(reader.read(&mut buffer)).unwrap_err();
    assert_eq!(read.kind(), io::ErrorKind::Other);
    assert!(find_in_chain::<Broken>(read.get_ref().unwrap()).is_some());
}

#[derive(Clone, Copy, Debug)]
enum SendWith {
    Send,
    SendFrame,
    PollReadyThenTrySend,
}

/// Sends chunks of various sizes into a channel of capacity 10, reading a
/// frame whenever the sender has to wait, and checks the data held after
/// each chunk is sent.
fn check_channel_holds_less_than_capacity_plus_one_chunk(with: SendWith) {
    const CAPACITY: usize = 10;
    let (mut sender, mut body) = Body::channel(CAPACITY as u64);
    let lengths = [7, 7, 3, 12, 1, 25, 9, 9, 9, 2, 10, 10, 1, 1, 30, 4];
    let (mut sent, mut received, mut waits) = (0, 0, 0);
    for length in lengths {
        let chunk = Bytes::from(vec![b'x'; length]);
        loop {
            let accepted = match with {
                SendWith::Send => try_now(sender.send(chunk.clone()))
                    .map(|sent| sent.expect("the body is alive"))
                    .is_some(),
                SendWith::SendFrame => try_now(sender.send_frame(Frame::data(chunk.clone())))
                    .map(|sent| sent.expect("the body is alive"))
                    .is_some(),
                SendWith::PollReadyThenTrySend => {
                    match sender.poll_ready(&mut Context::from_waker(Waker::noop())) {
                        Poll::Ready(Ok(())) => {
                            sender.try_send(chunk.clone()).expect("the body is alive");
                            true
                        }
                        Poll::Ready(Err(_)) => panic!("the body is alive"),
                        Poll::Pending => false,
                    }
                }
            };
            if accepted {
                break;
            }
            waits += 1;
            received += data(next(&mut body)).len();
        }
        sent += length;
        let held = sent - received;
        assert!(
            held < CAPACITY + length,
            "{with:?}: the channel holds {held} bytes after a chunk of {length}"
        );
    }
    assert!(waits > 0, "{with:?}: the sender never waited");
    sender.finish();
    let rest: usize = drain(&mut body).iter().map(Bytes::len).sum();
    assert_eq!(received + rest, sent);
}

/// **[BODY-13]** With `send`, the data held by the channel stays below
/// `capacity` plus the size of one chunk.
#[test]
fn body_13_send_holds_less_than_capacity_plus_one_chunk() {
    check_channel_holds_less_than_capacity_plus_one_chunk(SendWith::Send);
}

/// **[BODY-13]** With `send_frame`, the data held by the channel stays
/// below `capacity` plus the size of one chunk.
#[test]
fn body_13_send_frame_holds_less_than_capacity_plus_one_chunk() {
    check_channel_holds_less_than_capacity_plus_one_chunk(SendWith::SendFrame);
}

/// **[BODY-13]** With `poll_ready` followed by one `try_send`, the data
/// held by the channel stays below `capacity` plus the size of one chunk.
#[test]
fn body_13_poll_ready_then_try_send_holds_less_than_capacity_plus_one_chunk() {
    check_channel_holds_less_than_capacity_plus_one_chunk(SendWith::PollReadyThenTrySend);
}

/// What a channel of `capacity` does in a fixed sequence of sends, reads
/// and `poll_ready` calls.
fn channel_trace(capacity: u64) -> Vec<&'static str> {
    fn ready<T>(polled: Option<T>) -> &'static str {
        if polled.is_some() {
            "ready"
        } else {
            "pending"
        }
    }
    let (mut sender, mut body) = Body::channel(capacity);
    let poll_ready = |sender: &mut albany::body::Sender| match sender
        .poll_ready(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(Ok(())) => "ready",
        Poll::Ready(Err(_)) => "closed",
        Poll::Pending => "pending",
    };
    let mut trace = vec![
        poll_ready(&mut sender),
        ready(try_now(sender.send("abc"))),
        ready(try_now(sender.send("d"))),
        poll_ready(&mut sender),
    ];
    assert_eq!(data(next(&mut body)), "abc");
    trace.push(poll_ready(&mut sender));
    trace.push(ready(try_now(sender.send("d"))));
    trace.push(ready(try_now(sender.send("e"))));
    assert_eq!(data(next(&mut body)), "d");
    trace.push(ready(try_now(sender.send("e"))));
    trace
}

/// **[BODY-14]** A `capacity` of 0 behaves as 1: one chunk at a time (the
/// first chunk is accepted at once, the next waits until it is read).
#[test]
fn body_14_capacity_zero_behaves_as_one() {
    let expected = [
        "ready", "ready", "pending", "pending", "ready", "ready", "pending", "ready",
    ];
    assert_eq!(channel_trace(1), expected, "capacity 1");
    assert_eq!(channel_trace(0), expected, "capacity 0");
}

/// **[BODY-15]** The body ends normally after the data sent when the
/// sender calls `finish`.
#[test]
fn body_15_finish_ends_the_body_normally_after_the_data() {
    let (mut sender, mut body) = Body::channel(1024);
    sender.try_send("a").unwrap();
    block_on(sender.send("b")).unwrap();
    sender.finish();
    assert_eq!(data(next(&mut body)), "a");
    assert_eq!(data(next(&mut body)), "b");
    assert!(next(&mut body).is_none());

    // A reader waiting on another thread sees the end.
    let (mut sender, body) = Body::channel(4);
    let reader = thread::spawn(move || block_on(body.collect(100)));
    block_on(async {
        for chunk in ["ab", "cd", "ef"] {
            sender.send(chunk).await.unwrap();
        }
    });
    // Let the reader drain the channel and wait.
    thread::sleep(Duration::from_millis(20));
    sender.finish();
    let collected = within("collect", move || reader.join().unwrap()).unwrap();
    assert_eq!(collected.data(), "abcdef");
    assert!(collected.trailers().is_none());
}

/// **[BODY-15]** `send_trailers` sends the trailers as the last frame and
/// the body ends normally after them.
#[test]
fn body_15_send_trailers_sends_them_last_and_ends_normally() {
    let (mut sender, mut body) = Body::channel(1024);
    sender.try_send("a").unwrap();
    block_on(sender.send_trailers(header_map(&[("x-sum", "1"), ("x-more", "2")]))).unwrap();
    assert_eq!(data(next(&mut body)), "a");
    let trailers = next(&mut body)
        .expect("the trailers frame")
        .expect("not an error")
        .into_trailers()
        .expect("a trailers frame");
    assert_eq!(trailers, header_map(&[("x-sum", "1"), ("x-more", "2")]));
    assert!(next(&mut body).is_none());
    assert!(next(&mut body).is_none());

    // A reader waiting on another thread sees the trailers and the end.
    let (mut sender, body) = Body::channel(4);
    let reader = thread::spawn(move || block_on(body.collect(100)));
    block_on(sender.send("abcd")).unwrap();
    // Let the reader drain the channel and wait.
    thread::sleep(Duration::from_millis(20));
    block_on(sender.send_trailers(header_map(&[("x-done", "yes")]))).unwrap();
    let collected = within("collect", move || reader.join().unwrap()).unwrap();
    assert_eq!(collected.data(), "abcd");
    assert_eq!(collected.trailers().unwrap()["x-done"], "yes");
}

/// Checks `body` yields `a`, `b` and then an error.
fn assert_data_then_error(name: &str, body: &mut Body) -> albany::Error {
    assert_eq!(data(next(body)), "a", "{name}");
    assert_eq!(data(next(body)), "b", "{name}");
    error_of(next(body))
}

/// **[BODY-16]** The body yields the data sent and then an error when the
/// sender calls `abort`.
#[test]
fn body_16_abort_yields_the_data_then_an_error() {
    let (mut sender, mut body) = Body::channel(1024);
    sender.try_send("a").unwrap();
    sender.try_send("b").unwrap();
    sender.abort();
    assert_data_then_error("abort", &mut body);
}

/// **[BODY-16]** The body yields the data sent and then an error (the one
/// given) when the sender calls `abort_with`.
#[test]
fn body_16_abort_with_yields_the_data_then_an_error() {
    let (mut sender, mut body) = Body::channel(1024);
    sender.try_send("a").unwrap();
    sender.try_send("b").unwrap();
    sender.abort_with(Broken("given"));
    let error = assert_data_then_error("abort_with", &mut body);
    assert_eq!(error.downcast_ref::<Broken>().unwrap().0, "given");
}

/// **[BODY-16]** The body yields the data sent and then an error when the
/// sender is dropped without `finish` or `send_trailers`, also while the
/// reader waits on another thread.
#[test]
fn body_16_dropped_sender_yields_the_data_then_an_error() {
    let (mut sender, mut body) = Body::channel(1024);
    sender.try_send("a").unwrap();
    sender.try_send("b").unwrap();
    drop(sender);
    assert_data_then_error("dropped sender", &mut body);

    let (mut sender, body) = Body::channel(1024);
    let reader = thread::spawn(move || {
        let mut body = body;
        let mut frames = Vec::new();
        while let Some(frame) = block_on(body.frame()) {
            frames.push(frame.map(|frame| frame.into_data().unwrap()));
        }
        frames
    });
    sender.try_send("a").unwrap();
    thread::sleep(Duration::from_millis(20));
    sender.try_send("b").unwrap();
    // Let the reader drain the channel and wait.
    thread::sleep(Duration::from_millis(20));
    thread::spawn(move || drop(sender)).join().unwrap();
    let frames = within("read", move || reader.join().unwrap());
    assert_eq!(frames.len(), 3, "{frames:?}");
    assert_eq!(frames[0].as_ref().unwrap(), "a");
    assert_eq!(frames[1].as_ref().unwrap(), "b");
    assert!(frames[2].is_err());
}

/// **[BODY-18]** `try_send` and `try_send_frame` do not wait and ignore the
/// capacity.
#[test]
fn body_18_try_send_ignores_the_capacity() {
    let (mut sender, mut body) = Body::channel(4);
    sender.try_send(vec![b'a'; 10]).unwrap();
    sender.try_send(vec![b'b'; 10]).unwrap();
    sender
        .try_send_frame(Frame::data(Bytes::from(vec![b'c'; 10])))
        .unwrap();
    sender.try_send("d").unwrap();
    sender
        .try_send_frame(Frame::trailers(header_map(&[("x-t", "1")])))
        .unwrap();
    assert_eq!(data(next(&mut body)), vec![b'a'; 10]);
    assert_eq!(data(next(&mut body)), vec![b'b'; 10]);
    assert_eq!(data(next(&mut body)), vec![b'c'; 10]);
    assert_eq!(data(next(&mut body)), "d");
    assert!(next(&mut body).unwrap().unwrap().is_trailers());
}

/// **[BODY-18]** `try_send` and `try_send_frame` discard empty data chunks.
#[test]
fn body_18_try_send_discards_empty_chunks() {
    let (mut sender, mut body) = Body::channel(1);
    sender.try_send("").unwrap();
    sender.try_send_frame(Frame::data(Bytes::new())).unwrap();
    assert!(
        poll_body(&mut body).is_pending(),
        "an empty chunk was queued"
    );
    sender.try_send("a").unwrap();
    sender.try_send(Vec::new()).unwrap();
    sender.try_send_frame(Frame::data(Bytes::new())).unwrap();
    sender.try_send("b").unwrap();
    sender.try_send(String::new()).unwrap();
    sender.finish();
    assert_eq!(data(next(&mut body)), "a");
    assert_eq!(data(next(&mut body)), "b");
    assert!(next(&mut body).is_none());
}

/// **[BODY-19]** `collect(limit)` returns all data and the trailers,
/// merged when there are several trailers frames.
#[test]
fn body_19_collect_returns_all_data_and_merged_trailers() {
    let body = Body::from_frame_stream(stream::iter(vec![
        Ok::<_, io::Error>(Frame::data(Bytes::from("ab"))),
        Ok(Frame::data(Bytes::from("cd"))),
        Ok(Frame::data(Bytes::from("e"))),
        Ok(Frame::trailers(header_map(&[("x-first", "1")]))),
        Ok(Frame::trailers(header_map(&[
            ("x-second", "2"),
            ("x-third", "3"),
        ]))),
    ]));
    let collected = block_on(body.collect(5)).unwrap();
    assert_eq!(collected.data(), "abcde");
    let trailers = collected.trailers().expect("the trailers");
    assert_eq!(trailers.len(), 3, "{trailers:?}");
    assert_eq!(trailers["x-first"], "1");
    assert_eq!(trailers["x-second"], "2");
    assert_eq!(trailers["x-third"], "3");

    let collected = block_on(channel_with_trailers().collect(100)).unwrap();
    assert_eq!(collected.data(), "abcd");
    assert_eq!(collected.trailers().unwrap()["x-check"], "1");

    let collected = block_on(Body::from("plain").collect(100)).unwrap();
    assert_eq!(collected.data(), "plain");
    assert!(collected.trailers().is_none());

    let collected = block_on(Body::empty().collect(0)).unwrap();
    assert!(collected.data().is_empty());
}

/// **[BODY-19]** `to_bytes(limit)` returns the data only.
#[test]
fn body_19_to_bytes_returns_the_data_only() {
    assert_eq!(block_on(body_with_trailers().to_bytes(4)).unwrap(), "abcd");
    assert_eq!(
        block_on(channel_with_trailers().to_bytes(100)).unwrap(),
        "abcd"
    );
}

/// **[BODY-20]** `collect` and `to_bytes` fail with `TooLarge`, without
/// reading, when the size hint's lower bound exceeds the limit.
#[test]
fn body_20_size_hint_over_the_limit_fails_without_reading() {
    for (name, to_bytes) in [("collect", false), ("to_bytes", true)] {
        let body = Scripted::new(lower_bound(11));
        let polls = body.polls();
        let body = Body::new(body);
        let result = if to_bytes {
            block_on(body.to_bytes(10)).map(drop)
        } else {
            block_on(body.collect(10)).map(drop)
        };
        assert!(
            matches!(result, Err(CollectError::TooLarge { limit: 10 })),
            "{name}: {result:?}"
        );
        assert_eq!(polls.load(Ordering::SeqCst), 0, "{name} read the body");
    }
    assert!(matches!(
        block_on(Body::from("0123456789").collect(9)),
        Err(CollectError::TooLarge { limit: 9 })
    ));
    assert!(matches!(
        block_on(Body::from("0123456789").to_bytes(9)),
        Err(CollectError::TooLarge { limit: 9 })
    ));
    // A lower bound equal to the limit does not exceed it.
    let body = Body::new(Scripted::new(lower_bound(10)).data("0123456789").end());
    assert_eq!(block_on(body.to_bytes(10)).unwrap(), "0123456789");
}

/// **[BODY-20]** `collect` and `to_bytes` fail with `TooLarge` as soon as
/// the data read exceeds the limit: they read no further frame.
#[test]
fn body_20_fails_as_soon_as_the_data_read_exceeds_the_limit() {
    for (name, to_bytes) in [("collect", false), ("to_bytes", true)] {
        // The script ends after "def": reading further panics.
        let body = Scripted::new(SizeHint::new()).data("abc").data("def");
        let polls = body.polls();
        let body = Body::new(body);
        let result = if to_bytes {
            block_on(body.to_bytes(5)).map(drop)
        } else {
            block_on(body.collect(5)).map(drop)
        };
        assert!(
            matches!(result, Err(CollectError::TooLarge { limit: 5 })),
            "{name}: {result:?}"
        );
        assert_eq!(polls.load(Ordering::SeqCst), 2, "{name}");
    }
    // Data of exactly the limit does not exceed it.
    let body = Body::new(Scripted::new(SizeHint::new()).data("abc").data("def").end());
    assert_eq!(block_on(body.to_bytes(6)).unwrap(), "abcdef");
}

/// **[BODY-21]** `collect` and `to_bytes` fail with `CollectError::Body`
/// when the body fails, carrying the body's error.
#[test]
fn body_21_collect_fails_with_the_body_error() {
    for (name, body) in failing_bodies() {
        match block_on(body.collect(1024)) {
            Err(CollectError::Body(_)) => {}
            other => panic!("{name}: collect returned {other:?}"),
        }
    }
    for (name, body) in failing_bodies() {
        match block_on(body.to_bytes(1024)) {
            Err(CollectError::Body(_)) => {}
            other => panic!("{name}: to_bytes returned {other:?}"),
        }
    }
    let body = Body::from_stream(stream::iter(vec![Err::<Bytes, _>(Broken("first"))]));
    match block_on(body.collect(1024)) {
        Err(CollectError::Body(error)) => {
            assert_eq!(error.downcast_ref::<Broken>().unwrap().0, "first")
        }
        other => panic!("collect returned {other:?}"),
    }
    let (mut sender, body) = Body::channel(16);
    sender.try_send("a").unwrap();
    sender.abort_with(Broken("aborted"));
    match block_on(body.to_bytes(1024)) {
        Err(CollectError::Body(error)) => {
            assert_eq!(error.downcast_ref::<Broken>().unwrap().0, "aborted");
        }
        other => panic!("to_bytes returned {other:?}"),
    }
}

fn assert_length_limit_error(name: &str, polled: Polled, limit: u64) {
    let error = error_of(polled);
    let exceeded = error
        .downcast_ref::<LengthLimitError>()
        .unwrap_or_else(|| panic!("{name}: not a LengthLimitError: {error:?}"));
    assert_eq!(exceeded.limit(), limit, "{name}");
}

/// **[BODY-22]** `body.limit(n)` yields the body's frames while their data
/// totals at most `n` bytes; the frame that would cross `n` is replaced by
/// an error wrapping `LengthLimitError`, after which the body ends.
#[test]
fn body_22_limit_replaces_the_frame_that_would_cross_the_limit() {
    let inner = Scripted::new(SizeHint::new())
        .data("abc")
        .data("def")
        .data("gh")
        .data("ij")
        .end();
    let mut body = Body::new(inner).limit(6);
    assert_eq!(data(next(&mut body)), "abc");
    assert_eq!(data(next(&mut body)), "def");
    assert_length_limit_error("crossing frame", next(&mut body), 6);
    assert!(next(&mut body).is_none());
    assert!(next(&mut body).is_none());

    // A limit of 0 lets no data through.
    let mut body = Body::from_stream(stream::iter(vec![Ok::<_, io::Error>("a")])).limit(0);
    assert_length_limit_error("limit 0", next(&mut body), 0);
    assert!(next(&mut body).is_none());

    // Data of exactly the limit, then trailers: no error.
    let mut body = body_with_trailers().limit(4);
    assert_eq!(data(next(&mut body)), "ab");
    assert_eq!(data(next(&mut body)), "cd");
    assert!(next(&mut body).unwrap().unwrap().is_trailers());
    assert!(next(&mut body).is_none());
}

/// **[BODY-22]** `body.limit(n)` replaces the first frame by an error
/// wrapping `LengthLimitError` when the size hint's lower bound already
/// exceeds `n`, after which the body ends.
#[test]
fn body_22_limit_fails_the_first_frame_when_the_size_hint_exceeds_the_limit() {
    let mut body = Body::from("0123456789").limit(4);
    assert_length_limit_error("exact hint", next(&mut body), 4);
    assert!(next(&mut body).is_none());
    assert!(next(&mut body).is_none());

    let inner = Scripted::new(range(5, 100)).data("a").data("bcde").end();
    let mut body = Body::new(inner).limit(4);
    assert_length_limit_error("lower bound", next(&mut body), 4);
    assert!(next(&mut body).is_none());

    // A hint equal to the limit does not exceed it.
    let mut body = Body::from("0123").limit(4);
    assert_eq!(data(next(&mut body)), "0123");
    assert!(next(&mut body).is_none());
}

/// **[BODY-22]** `body.limit(n)` yields every frame while the data totals
/// at most `n`, and replaces only the frame that would cross `n`, also when
/// the size hint's lower bound grows past what is left of `n` after the
/// first frame.
#[test]
fn body_22_limit_yields_frames_within_the_limit_when_a_later_size_hint_grows() {
    // "ab" (2), then the body learns 3 more bytes are coming: "a" (3 <= 4)
    // must be yielded, and "bc" (5 > 4) replaced by the error.
    let inner = Scripted::new(SizeHint::new())
        .data("ab")
        .then_hint(SizeHint::with_exact(3))
        .data("a")
        .then_hint(SizeHint::with_exact(2))
        .data("bc")
        .then_hint(SizeHint::with_exact(0))
        .end();
    let mut body = Body::new(inner).limit(4);
    assert_eq!(data(next(&mut body)), "ab");
    assert_eq!(
        data(next(&mut body)),
        "a",
        "a frame within the limit was replaced"
    );
    assert_length_limit_error("crossing frame", next(&mut body), 4);
    assert!(next(&mut body).is_none());
}

/// **[BODY-23]** `collect` and `to_bytes` report a body error wrapping
/// `LengthLimitError` as `CollectError::TooLarge` with that error's limit
/// (not their own).
#[test]
fn body_23_collect_reports_a_length_limit_error_as_too_large_with_its_limit() {
    let limited =
        || Body::from_stream(stream::iter(vec![Ok::<_, io::Error>("abc"), Ok("def")])).limit(4);
    for own_limit in [5, 100] {
        match block_on(limited().collect(own_limit)) {
            Err(CollectError::TooLarge { limit: 4 }) => {}
            other => panic!("collect({own_limit}) returned {other:?}"),
        }
        match block_on(limited().to_bytes(own_limit)) {
            Err(CollectError::TooLarge { limit: 4 }) => {}
            other => panic!("to_bytes({own_limit}) returned {other:?}"),
        }
    }
    // An exact size hint over the limit fails the first frame.
    match block_on(Body::from("0123456789").limit(7).collect(100)) {
        Err(CollectError::TooLarge { limit: 7 }) => {}
        other => panic!("collect returned {other:?}"),
    }
    // The error reaches collect through another body.
    let forwarded = Body::from_stream(limited().into_data_stream());
    match block_on(forwarded.to_bytes(100)) {
        Err(CollectError::TooLarge { limit: 4 }) => {}
        other => panic!("to_bytes returned {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// §10 Runtime service
// ---------------------------------------------------------------------------

/// **[RT-7]** `Handle` is a cheap clone, one reference count, of an
/// `Arc<dyn Runtime>`.
#[test]
fn rt_7_handle_clone_is_one_reference_count() {
    assert_eq!(
        std::mem::size_of::<Handle>(),
        std::mem::size_of::<Arc<dyn Runtime>>()
    );
    let runtime: Arc<dyn Runtime> = Arc::new(Threads);
    let handle = Handle::from_arc(runtime.clone());
    assert!(Arc::ptr_eq(handle.runtime(), &runtime));
    assert_eq!(Arc::strong_count(&runtime), 2);
    let (copy, count) = allocations(|| handle.clone());
    assert_eq!(count, 0, "cloning a Handle allocated");
    assert_eq!(Arc::strong_count(&runtime), 3);
    assert!(Arc::ptr_eq(copy.runtime(), &runtime));
    drop(copy);
    assert_eq!(Arc::strong_count(&runtime), 2);

    let handle = Handle::new(Threads);
    let copy = handle.clone();
    assert!(Arc::ptr_eq(copy.runtime(), handle.runtime()));
    assert_eq!(Arc::strong_count(handle.runtime()), 2);
}

/// **[RT-7]** `Sleep` is `Send`, `Sync` and `Unpin`.
#[test]
fn rt_7_sleep_is_send_sync_and_unpin() {
    fn send_sync_unpin<T: Send + Sync + Unpin>(value: T) -> T {
        value
    }
    let handle = Handle::new(Threads);
    let mut sleep = send_sync_unpin(handle.sleep(Duration::from_millis(1)));
    // Unpin: awaited through a plain `&mut`.
    block_on(Pin::new(&mut sleep));
    block_on(send_sync_unpin(Sleep::new(std::future::ready(()))));
}

/// **[RT-9]** Dropping a `JoinHandle` detaches the task, which keeps
/// running to its end.
#[test]
fn rt_9_dropping_a_join_handle_detaches_the_task() {
    let handle = Handle::new(Threads);
    let gate = Gate::default();
    let (done, finished) = mpsc::channel();
    let opened = gate.opened();
    let join = handle.spawn(async move {
        opened.await;
        done.send("finished").unwrap();
        7
    });
    gate.wait_for_polls(1);
    drop(join);
    gate.open();
    assert_eq!(finished.recv_timeout(WAIT), Ok("finished"));

    // Deterministically: the task has not run at all when the handle drops.
    let runtime = Deferred::default();
    let handle = Handle::new(runtime.clone());
    let (done, finished) = mpsc::channel();
    drop(handle.spawn(async move { done.send("finished").unwrap() }));
    for task in runtime.take_tasks() {
        block_on(task);
    }
    assert_eq!(finished.try_recv(), Ok("finished"));

    // A blocking function too.
    let (go, wait) = mpsc::channel::<()>();
    let (done, finished) = mpsc::channel();
    let join = handle_threads().spawn_blocking(move || {
        wait.recv().unwrap();
        done.send("finished").unwrap();
    });
    drop(join);
    go.send(()).unwrap();
    assert_eq!(finished.recv_timeout(WAIT), Ok("finished"));
}

fn handle_threads() -> Handle {
    Handle::new(Threads)
}

/// **[RT-10]** `JoinHandle::abort` cancels an unfinished task: the future
/// is dropped at its next poll, which `abort` triggers (the future never
/// wakes itself), without being polled again, and the handle resolves to a
/// `JoinError` whose `is_cancelled()` is `true`.
#[test]
fn rt_10_abort_drops_the_future_at_its_next_poll() {
    let handle = handle_threads();
    let polls = Arc::new(AtomicUsize::new(0));
    let (first_poll, polled) = mpsc::channel();
    let (dropped, was_dropped) = mpsc::channel();
    let join = handle.spawn(Probe {
        polls: polls.clone(),
        first_poll: Some(first_poll),
        dropped,
    });
    polled.recv_timeout(WAIT).expect("the task was not polled");
    thread::sleep(Duration::from_millis(20));
    assert!(was_dropped.try_recv().is_err(), "dropped before abort");
    join.abort();
    was_dropped
        .recv_timeout(WAIT)
        .expect("the future was not dropped after abort");
    assert_eq!(polls.load(Ordering::SeqCst), 1, "polled after abort");
    let result = within("join", move || block_on(join));
    assert!(result.unwrap_err().is_cancelled());
}

/// **[RT-10]** A task aborted before its first poll is dropped at that
/// poll without running, and its handle resolves as cancelled.
#[test]
fn rt_10_abort_before_the_first_poll_never_runs_the_future() {
    let runtime = Deferred::default();
    let handle = Handle::new(runtime.clone());
    let polls = Arc::new(AtomicUsize::new(0));
    let (dropped, was_dropped) = mpsc::channel();
    let join = handle.spawn(Probe {
        polls: polls.clone(),
        first_poll: None,
        dropped,
    });
    join.abort();
    let mut tasks = runtime.take_tasks();
    assert_eq!(tasks.len(), 1);
    let finished = try_now(tasks.remove(0).as_mut());
    assert!(finished.is_some(), "the aborted task did not finish");
    assert!(was_dropped.try_recv().is_ok(), "the future was not dropped");
    assert_eq!(
        polls.load(Ordering::SeqCst),
        0,
        "the aborted future was polled"
    );
    assert!(block_on(join).unwrap_err().is_cancelled());
}

/// **[RT-10]** `abort` lets a blocking function that has started run to its
/// end.
#[test]
fn rt_10_abort_lets_a_started_blocking_function_run_to_its_end() {
    let handle = handle_threads();
    let (started, has_started) = mpsc::channel();
    let (go, wait) = mpsc::channel::<()>();
    let (ended, has_ended) = mpsc::channel();
    let join = handle.spawn_blocking(move || {
        started.send(()).unwrap();
        wait.recv().unwrap();
        thread::sleep(Duration::from_millis(20));
        ended.send("ended").unwrap();
    });
    has_started
        .recv_timeout(WAIT)
        .expect("the function did not start");
    join.abort();
    go.send(()).unwrap();
    assert_eq!(has_ended.recv_timeout(WAIT), Ok("ended"));
    // The handle resolves once the function has ended.
    let _ = within("join", move || block_on(join));
}

/// **[RT-10]** `abort` before a blocking function starts means it never
/// runs, and the handle resolves as cancelled.
#[test]
fn rt_10_abort_before_a_blocking_function_starts_means_it_never_runs() {
    let runtime = Deferred::default();
    let handle = Handle::new(runtime.clone());
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let join = handle.spawn_blocking(move || flag.store(true, Ordering::SeqCst));
    join.abort();
    for job in runtime.take_jobs() {
        thread::spawn(job).join().unwrap();
    }
    assert!(!ran.load(Ordering::SeqCst), "the aborted function ran");
    assert!(block_on(join).unwrap_err().is_cancelled());
}

/// **[RT-11]** A task the runtime drops unfinished, never polled, resolves
/// its `JoinHandle` to a cancelled `JoinError`, and wakes the task waiting
/// on the handle.
#[test]
fn rt_11_a_task_dropped_before_its_first_poll_resolves_cancelled() {
    let runtime = Deferred::default();
    let handle = Handle::new(runtime.clone());
    let mut join = handle.spawn(std::future::pending::<u8>());
    let flag = Arc::new(Flag::default());
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut join).poll(&mut cx).is_pending());
    drop(runtime.take_tasks());
    assert!(
        flag.0.load(Ordering::SeqCst),
        "the waiting task was not woken"
    );
    match Pin::new(&mut join).poll(&mut cx) {
        Poll::Ready(Err(error)) => assert!(error.is_cancelled(), "{error:?}"),
        other => panic!("the handle returned {other:?}"),
    }
}

/// **[RT-11]** A task the runtime drops unfinished after polling it
/// resolves its `JoinHandle` to a cancelled `JoinError`, also for a
/// waiter on another thread.
#[test]
fn rt_11_a_task_dropped_after_a_poll_resolves_cancelled() {
    let runtime = Deferred::default();
    let handle = Handle::new(runtime.clone());
    let gate = Gate::default();
    let opened = gate.opened();
    let join = handle.spawn(async move {
        opened.await;
        "finished"
    });
    let mut tasks = runtime.take_tasks();
    assert!(try_now(tasks[0].as_mut()).is_none());
    gate.wait_for_polls(1);
    let waiter = thread::spawn(move || block_on(join));
    thread::sleep(Duration::from_millis(20));
    drop(tasks);
    let result = within("join", move || waiter.join().unwrap());
    assert!(result.unwrap_err().is_cancelled());
}

// ---------------------------------------------------------------------------
// §5 Extensions
// ---------------------------------------------------------------------------

/// **[EXT-6]** `RequestExt::runtime`, `connection_info`, `shutdown_signal`
/// and `take_upgrade` return `None` when the extension is absent, also when
/// values of other types are there.
#[test]
fn ext_6_request_ext_returns_none_when_the_extension_is_absent() {
    let mut request = request("/");
    assert!(request.runtime().is_none());
    assert!(request.connection_info().is_none());
    assert!(request.shutdown_signal().is_none());
    assert!(request.take_upgrade().is_none());

    let runtime: Arc<dyn Runtime> = Arc::new(Threads);
    request.extensions_mut().insert(runtime);
    request
        .extensions_mut()
        .insert(String::from("not an extension"));
    request.extensions_mut().insert(ShutdownTrigger::new());
    request.extensions_mut().insert(Some(ConnectionInfo::new(
        "127.0.0.1:1".parse().unwrap(),
        "127.0.0.1:2".parse().unwrap(),
    )));
    assert!(request.runtime().is_none());
    assert!(request.connection_info().is_none());
    assert!(request.shutdown_signal().is_none());
    assert!(request.take_upgrade().is_none());

    let mut bare = albany::http::Request::new(());
    assert!(bare.runtime().is_none());
    assert!(bare.connection_info().is_none());
    assert!(bare.shutdown_signal().is_none());
    assert!(bare.take_upgrade().is_none());
}

/// **[EXT-6]** Extensions are found by type: `RequestExt` returns the
/// values inserted under each type.
#[test]
fn ext_6_request_ext_finds_extensions_by_type() {
    let mut request = request("/");
    let runtime: Arc<dyn Runtime> = Arc::new(Threads);
    let info = ConnectionInfo::new(
        "192.0.2.1:5000".parse().unwrap(),
        "192.0.2.2:80".parse().unwrap(),
    );
    let trigger = ShutdownTrigger::new();
    request
        .extensions_mut()
        .insert(Handle::from_arc(runtime.clone()));
    request.extensions_mut().insert(info.clone());
    request.extensions_mut().insert(trigger.signal());
    request.extensions_mut().insert(OnUpgrade::new(async {
        Err(UpgradeError::new("the inserted OnUpgrade"))
    }));

    assert!(Arc::ptr_eq(request.runtime().unwrap().runtime(), &runtime));
    assert_eq!(request.connection_info(), Some(&info));
    let signal = request.shutdown_signal().unwrap();
    assert!(!signal.is_triggered());
    trigger.trigger();
    assert!(signal.is_triggered());
    assert!(request.shutdown_signal().unwrap().is_triggered());

    let on_upgrade = request.take_upgrade().expect("the OnUpgrade");
    let error = block_on(on_upgrade).unwrap_err();
    assert!(
        error.to_string().contains("the inserted OnUpgrade"),
        "{error}"
    );
    assert!(request.take_upgrade().is_none(), "taken twice");
    assert!(request.extensions().get::<OnUpgrade>().is_none());
}

// ---------------------------------------------------------------------------
// §14 Upgrades
// ---------------------------------------------------------------------------

fn connection(bytes: &'static [u8]) -> Upgraded {
    Upgraded::new(Cursor::new(bytes.to_vec()))
}

/// **[UPG-6]** Clones of an `OnUpgrade` share one connection: the first to
/// await it gets it, the others (before or after it, clones made later
/// included) an `UpgradeError`.
#[test]
fn upg_6_the_first_clone_to_await_gets_the_connection_the_others_an_error() {
    let original = OnUpgrade::new(async { Ok(connection(b"the connection")) });
    let first = original.clone();
    let second = original.clone();
    let mut upgraded = block_on(second).expect("the first to await gets the connection");
    let mut read = String::new();
    block_on(upgraded.read_to_string(&mut read)).unwrap();
    assert_eq!(read, "the connection");
    let later = original.clone();
    let others = within("the other clones", move || {
        [block_on(later), block_on(first), block_on(original)].map(|result| result.is_err())
    });
    assert_eq!(
        others, [true; 3],
        "a clone other than the first did not get an error"
    );
}

/// Two clones of an `OnUpgrade` awaited on two threads, the first before
/// the second, over a connection that is ready later. Returns what each
/// resolved to (`Some(true)` for the connection), `None` when a clone did
/// not resolve in time.
fn await_two_clones() -> (Option<bool>, Option<bool>) {
    let gate = Gate::default();
    let opened = gate.opened();
    let on_upgrade = OnUpgrade::new(async move {
        opened.await;
        Ok(connection(b""))
    });
    let (results, received) = mpsc::channel();
    for (name, clone, polls) in [
        // The first clone claims the connection (polls the gate once); the
        // second, awaited while the first waits, does not poll it again.
        ("first", on_upgrade.clone(), 1),
        ("second", on_upgrade.clone(), 1),
    ] {
        let results = results.clone();
        thread::spawn(move || {
            let result = block_on(clone);
            let _ = results.send((name, result.is_ok()));
        });
        gate.wait_for_polls(polls);
    }
    gate.open();
    let (mut first, mut second) = (None, None);
    for _ in 0..2 {
        match received.recv_timeout(WAIT) {
            Ok(("first", got)) => first = Some(got),
            Ok((_, got)) => second = Some(got),
            Err(_) => break,
        }
    }
    (first, second)
}

/// **[UPG-6]** Clones awaited concurrently share one connection: each
/// resolves, one to the connection and the other to an `UpgradeError`.
#[test]
fn upg_6_clones_awaited_concurrently_all_resolve() {
    let (first, second) = await_two_clones();
    assert!(first.is_some(), "the first clone never resolved");
    assert!(second.is_some(), "the second clone never resolved");
    assert_ne!(first, second, "exactly one clone gets the connection");
}

/// **[UPG-6]** The first clone to await gets the connection: when two
/// clones wait for it, the one that started awaiting first gets it.
#[test]
fn upg_6_the_clone_that_awaits_first_gets_the_connection() {
    let (first, second) = await_two_clones();
    assert_eq!(first, Some(true), "the first to await did not get it");
    assert_eq!(
        second,
        Some(false),
        "the second did not get an UpgradeError"
    );
}

// ---------------------------------------------------------------------------
// §2 Application
// ---------------------------------------------------------------------------

/// Makes an application of any `f` that APP-6 names: compiles only if
/// `from_fn(f)` is an application for every such `f`.
fn application_of<F, Fut>(f: F) -> impl Application
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send,
{
    from_fn(f)
}

async fn text_of(response: Response) -> String {
    let bytes = response.into_body().to_bytes(1024).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

async fn handler(request: Request) -> Response {
    Response::new(Body::from(format!("fn {}", request.uri().path())))
}

/// **[APP-6]** `from_fn(f)` is an application for every `f: Fn(Request) ->
/// Fut + Send + Sync + 'static` with `Fut: Future<Output = Response> +
/// Send` (closures, `async fn` items, function pointers, futures that are
/// neither `Sync` nor `Unpin`), and its calls are `f`'s.
#[test]
fn app_6_from_fn_is_an_application_for_every_fitting_function() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let closure = application_of(move |request: Request| {
        counted.fetch_add(1, Ordering::SeqCst);
        async move { Response::new(Body::from(format!("closure {}", request.uri().path()))) }
    });
    assert_eq!(
        block_on(text_of(block_on(closure.call(request("/a"))))),
        "closure /a"
    );
    assert_eq!(
        block_on(text_of(block_on(closure.call(request("/b"))))),
        "closure /b"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    let item = application_of(handler);
    assert_eq!(
        block_on(text_of(block_on(item.call(request("/c"))))),
        "fn /c"
    );

    let pointer: fn(Request) -> std::future::Ready<Response> =
        |_| std::future::ready(Response::new(Body::from("pointer")));
    let pointer = application_of(pointer);
    assert_eq!(
        block_on(text_of(block_on(pointer.call(request("/"))))),
        "pointer"
    );

    // The future holds a `Cell` across an await: `Send`, not `Sync`.
    let not_sync = application_of(|request: Request| async move {
        let length = Cell::new(request.uri().path().len());
        std::future::ready(()).await;
        length.set(length.get() * 10);
        Response::new(Body::from(length.get().to_string()))
    });
    assert_eq!(
        block_on(text_of(block_on(not_sync.call(request("/abc"))))),
        "40"
    );

    // The concrete type too.
    fn is_application<A: Application>(_: &A) {}
    is_application(&from_fn(handler));
}

/// An application that echoes the path and reports its own address, and
/// counts its calls and drops; it is not `Clone`.
struct Echo {
    calls: AtomicUsize,
    drops: Arc<AtomicUsize>,
}

impl Echo {
    fn new() -> (Self, Arc<AtomicUsize>) {
        let drops = Arc::new(AtomicUsize::new(0));
        let echo = Echo {
            calls: AtomicUsize::new(0),
            drops: drops.clone(),
        };
        (echo, drops)
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

impl Application for Echo {
    async fn call(&self, request: Request) -> Response {
        let calls = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let mut response = Response::new(Body::from(request.uri().path().to_owned()));
        let headers = response.headers_mut();
        headers.insert("x-app", HeaderValue::from(self as *const Echo as usize));
        headers.insert("x-calls", HeaderValue::from(calls));
        response
    }
}

/// Calls `app` with `path` and returns the body, the `x-app` address and
/// the `x-calls` count.
fn call_echo(app: &impl Application, path: &str) -> (String, String, String) {
    let response = block_on(app.call(request(path)));
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    let (address, calls) = (header("x-app"), header("x-calls"));
    (block_on(text_of(response)), address, calls)
}

/// **[APP-7]** `BoxApplication::new(app)` is an application that forwards
/// every call to `app`, and its clones share that one `app`.
#[test]
fn app_7_box_application_forwards_every_call_and_clones_share_the_app() {
    let (echo, drops) = Echo::new();
    let boxed = BoxApplication::new(echo);
    let clone = boxed.clone();
    let (body, address, calls) = call_echo(&boxed, "/one");
    assert_eq!((body.as_str(), calls.as_str()), ("/one", "1"));
    let (body, clone_address, calls) = call_echo(&clone, "/two");
    assert_eq!((body.as_str(), calls.as_str()), ("/two", "2"));
    assert_eq!(address, clone_address, "the clones call different apps");
    let (body, _, calls) = call_echo(&boxed.clone(), "/three");
    assert_eq!((body.as_str(), calls.as_str()), ("/three", "3"));

    drop(boxed);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        0,
        "the app was dropped with a clone alive"
    );
    drop(clone);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the app was not dropped exactly once"
    );
}

/// An application whose future does not allocate.
struct Quiet;

impl Application for Quiet {
    async fn call(&self, _request: Request) -> Response {
        Response::new(Body::empty())
    }
}

/// Calls `app` and polls the future to its end, counting allocations.
fn allocations_of_a_call(app: &impl Application) -> usize {
    let request = request("/");
    let ((), count) = allocations(|| {
        let future = pin!(app.call(request));
        match future.poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(response) => drop(response),
            Poll::Pending => panic!("the call is pending"),
        }
    });
    count
}

/// **[APP-7]** Each call of a `BoxApplication` allocates one boxed future:
/// one allocation more than calling the app itself.
#[test]
fn app_7_each_call_allocates_one_boxed_future() {
    let direct = allocations_of_a_call(&Quiet);
    let boxed = BoxApplication::new(Quiet);
    let clone = boxed.clone();
    for _ in 0..3 {
        assert_eq!(allocations_of_a_call(&boxed), direct + 1);
        assert_eq!(allocations_of_a_call(&clone), direct + 1);
    }
}

/// **[APP-8]** `Arc<A>` and `Box<A>` are applications when `A` is, and
/// forward every call to that `A`.
#[test]
fn app_8_arc_and_box_are_applications_that_forward() {
    fn is_application<A: Application>(_: &A) {}

    let (echo, drops) = Echo::new();
    let arc = Arc::new(echo);
    is_application(&arc);
    let (body, address, calls) = call_echo(&arc, "/arc");
    assert_eq!((body.as_str(), calls.as_str()), ("/arc", "1"));
    assert_eq!(address, (Arc::as_ptr(&arc) as usize).to_string());
    let (_, _, calls) = call_echo(&arc.clone(), "/arc");
    assert_eq!(calls, "2");
    assert_eq!(arc.calls.load(Ordering::SeqCst), 2);
    drop(arc);
    assert_eq!(drops.load(Ordering::SeqCst), 1);

    let (echo, _) = Echo::new();
    let boxed = Box::new(echo);
    is_application(&boxed);
    let (body, address, calls) = call_echo(&boxed, "/box");
    assert_eq!((body.as_str(), calls.as_str()), ("/box", "1"));
    assert_eq!(address, (&*boxed as *const Echo as usize).to_string());
    assert_eq!(boxed.calls.load(Ordering::SeqCst), 1);

    // Nested: Arc<Box<A>> and Box<Arc<A>> forward to the same A.
    let (echo, _) = Echo::new();
    let nested = Arc::new(Box::new(echo));
    is_application(&nested);
    let (_, address, _) = call_echo(&nested, "/nested");
    assert_eq!(address, (&**nested as *const Echo as usize).to_string());
}
