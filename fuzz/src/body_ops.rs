//! The `body_ops` target: an `albany::Body` driven by a fuzzed sequence of
//! operations, checked against a model of what it must yield.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use albany::body::{CollectError, Collected, DataStream, LengthLimitError, Sender};
use albany::Body;
use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use futures_lite::{AsyncRead, Stream};
use http::{HeaderMap, HeaderName, HeaderValue};
use http_body::Body as _;

use crate::noop_context;

/// The most operations taken from one input.
const MAX_OPS: usize = 512;
/// The most polls of the consumer after the operations, once every
/// producer has ended: more means the body hangs.
const MAX_FINAL_POLLS: usize = 100_000;
/// What `Body::from_reader` asks of its reader at a time (its documented
/// 16 KiB).
const READ_CHUNK: usize = 16 * 1024;

/// Drives one `albany::Body` with the operations that `data` decodes to
/// and checks it against a model (panics on a mismatch):
///
/// - the source: `Body::from` bytes, `Body::channel` (sends gated by
///   `poll_ready` and not, trailers, finish, abort, drop of the sender),
///   `Body::from_reader` or `Body::from_stream` fed step by step (data,
///   `Pending`, an error, the end);
/// - up to two nested `Body::limit`s;
/// - the consumer: `poll_frame`, `collect` with a maximum, `into_reader`
///   with fuzzed buffer sizes, or `into_data_stream`, polled between the
///   producer's operations and then to the end.
///
/// The checks: the data out is the data in, up to the first limit crossed;
/// a `LengthLimitError` (or `CollectError::TooLarge`) with the right limit
/// exactly when a frame would cross one; the source's error when it fails
/// first; trailers kept by `poll_frame` and `collect`; `None` after the
/// end; a sender fails once the body is dropped, and the channel holds at
/// most its capacity plus one chunk; the body ends within a bounded number
/// of polls once the producer has ended.
pub fn body_ops(data: &[u8]) {
    let mut input = Unstructured::new(data);
    let Ok(plan) = Plan::arbitrary(&mut input) else {
        return;
    };
    let mut ops = Vec::new();
    while ops.len() < MAX_OPS {
        match Op::arbitrary(&mut input) {
            Ok(op) => ops.push(op),
            Err(_) => break,
        }
    }
    run(plan, ops);
}

#[derive(Arbitrary, Debug)]
struct Plan {
    source: SourceKind,
    limits: Vec<u16>,
    sink: SinkKind,
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum SourceKind {
    /// `Body::from(Bytes)`: the data of the first `Data` operation.
    Bytes,
    /// `Body::channel(capacity)`.
    Channel { capacity: u16 },
    /// `Body::from_reader` of a reader fed by the operations.
    Reader,
    /// `Body::from_stream` of a stream fed by the operations.
    Stream,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum SinkKind {
    Frames,
    Collect { max: u16 },
    Reader,
    DataStream,
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// Channel: send if `poll_ready` says there is capacity. Reader and
    /// stream: queue a chunk.
    Data(Vec<u8>),
    /// Channel: `try_send`, ignoring the capacity. Otherwise as `Data`.
    Push(Vec<u8>),
    /// Channel: `send_trailers` when there is capacity. Otherwise ignored.
    Trailers(Vec<(u8, u8)>),
    /// Channel: `finish`. Reader and stream: the end.
    Finish,
    /// Channel: `abort`. Reader and stream: an error.
    Abort,
    /// Channel: the sender dropped. Reader and stream: `Pending` once.
    Drop,
    /// Polls the consumer once; the number is the reader's buffer size.
    Poll(u8),
}

/// How the producer ended, in the model.
#[derive(Debug, Clone)]
enum End {
    Open,
    Clean,
    Trailers(HeaderMap),
    Failed,
}

/// A step a fed reader or stream hands out.
enum Step {
    Data(Bytes),
    Pending,
    Error,
}

#[derive(Default)]
struct FeedState {
    steps: VecDeque<Step>,
    closed: bool,
}

/// The reader and stream behind `from_reader` and `from_stream`.
#[derive(Clone, Default)]
struct Feed(Arc<Mutex<FeedState>>);

impl Feed {
    fn push(&self, step: Step) {
        self.0.lock().unwrap().steps.push_back(step);
    }
    fn close(&self) {
        self.0.lock().unwrap().closed = true;
    }
}

impl AsyncRead for Feed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut state = self.0.lock().unwrap();
        loop {
            match state.steps.pop_front() {
                // An empty read would be the end of file: skipped.
                Some(Step::Data(data)) if data.is_empty() => continue,
                Some(Step::Data(mut data)) => {
                    let n = data.len().min(buf.len());
                    buf[..n].copy_from_slice(&data[..n]);
                    let rest = data.split_off(n);
                    if !rest.is_empty() {
                        state.steps.push_front(Step::Data(rest));
                    }
                    return Poll::Ready(Ok(n));
                }
                Some(Step::Pending) => {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Some(Step::Error) => return Poll::Ready(Err(io::Error::other("fed error"))),
                None if state.closed => return Poll::Ready(Ok(0)),
                None => return Poll::Pending,
            }
        }
    }
}

impl Stream for Feed {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut state = self.0.lock().unwrap();
        match state.steps.pop_front() {
            Some(Step::Data(data)) => Poll::Ready(Some(Ok(data))),
            Some(Step::Pending) => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Some(Step::Error) => Poll::Ready(Some(Err(io::Error::other("fed error")))),
            None if state.closed => Poll::Ready(None),
            None => Poll::Pending,
        }
    }
}

enum Producer {
    Bytes,
    Channel(Option<Sender>, usize),
    Feed(Feed),
}

type CollectFuture = Pin<Box<dyn Future<Output = Result<Collected, CollectError>> + Send>>;

enum Consumer {
    Frames(Body),
    Collect(CollectFuture),
    Reader(albany::body::BodyReader),
    DataStream(DataStream),
}

/// What the consumer saw.
#[derive(Debug, Default)]
struct Seen {
    data: Vec<u8>,
    trailers: Option<HeaderMap>,
    outcome: Option<Outcome>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// The body ended without an error.
    Ended,
    /// A `LengthLimitError` (or `TooLarge`) with this limit.
    Limit(u64),
    /// Another error (the source's).
    Failed,
}

fn trailers_of(fields: &[(u8, u8)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for &(name, value) in fields.iter().take(8) {
        let name =
            HeaderName::from_bytes(format!("x-t{}", name % 16).as_bytes()).expect("a valid name");
        map.append(name, HeaderValue::from(u16::from(value)));
    }
    map
}

fn run(plan: Plan, ops: Vec<Op>) {
    let limits: Vec<u64> = plan.limits.iter().take(2).map(|&l| u64::from(l)).collect();
    // The model: the data frames the source yields, in order, and its end.
    let mut frames: Vec<Bytes> = Vec::new();
    let mut end = End::Open;

    let (mut producer, body) = match plan.source {
        SourceKind::Bytes => {
            let first = ops.iter().find_map(|op| match op {
                Op::Data(data) | Op::Push(data) => Some(Bytes::copy_from_slice(data)),
                _ => None,
            });
            let bytes = first.unwrap_or_default();
            if !bytes.is_empty() {
                frames.push(bytes.clone());
            }
            end = End::Clean;
            (Producer::Bytes, Body::from(bytes))
        }
        SourceKind::Channel { capacity } => {
            let (sender, body) = Body::channel(u64::from(capacity));
            (
                Producer::Channel(Some(sender), usize::from(capacity).max(1)),
                body,
            )
        }
        SourceKind::Reader => {
            let feed = Feed::default();
            (Producer::Feed(feed.clone()), Body::from_reader(feed))
        }
        SourceKind::Stream => {
            let feed = Feed::default();
            (Producer::Feed(feed.clone()), Body::from_stream(feed))
        }
    };
    let hint_lower = body.size_hint().lower();
    let mut body = body;
    for &limit in &limits {
        body = body.limit(limit);
    }
    let collect_max = match plan.sink {
        SinkKind::Collect { max } => Some(u64::from(max)),
        _ => None,
    };
    let mut consumer = match plan.sink {
        SinkKind::Frames => Consumer::Frames(body),
        SinkKind::Collect { max } => Consumer::Collect(Box::pin(body.collect(u64::from(max)))),
        SinkKind::Reader => Consumer::Reader(body.into_reader()),
        SinkKind::DataStream => Consumer::DataStream(body.into_data_stream()),
    };
    let mut seen = Seen::default();
    let mut total_accepted = 0usize;

    for op in &ops {
        match (&mut producer, op) {
            (_, Op::Poll(size)) => poll_consumer(&mut consumer, &mut seen, usize::from(*size) + 1),
            (Producer::Bytes, _) => {}
            (Producer::Channel(slot, capacity), op) => {
                let capacity = *capacity;
                let Some(sender) = slot.as_mut() else {
                    continue;
                };
                // The body is alive until a collect has returned.
                let alive = !matches!(consumer, Consumer::Collect(_)) || seen.outcome.is_none();
                match op {
                    Op::Data(data) | Op::Push(data) => {
                        let gated = matches!(op, Op::Data(_));
                        if gated {
                            match sender.poll_ready(&mut noop_context()) {
                                Poll::Pending => {
                                    assert!(
                                        sender.buffered() >= capacity,
                                        "poll_ready pending below the capacity"
                                    );
                                    continue;
                                }
                                Poll::Ready(Ok(())) => {
                                    assert!(alive, "ready after the body dropped")
                                }
                                Poll::Ready(Err(_)) => {
                                    assert!(!alive, "poll_ready failed with the body alive");
                                    continue;
                                }
                            }
                        }
                        let sent = sender.try_send(Bytes::copy_from_slice(data));
                        assert_eq!(sent.is_ok(), alive, "try_send with the body alive: {alive}");
                        if sent.is_ok() && !data.is_empty() {
                            total_accepted += data.len();
                            frames.push(Bytes::copy_from_slice(data));
                            if gated {
                                assert!(
                                    sender.buffered() < capacity + data.len(),
                                    "the channel holds more than its capacity and one chunk"
                                );
                            }
                        }
                        assert!(sender.buffered() <= total_accepted);
                        assert_eq!(sender.is_closed(), !alive);
                    }
                    Op::Trailers(fields) => {
                        if !matches!(sender.poll_ready(&mut noop_context()), Poll::Ready(Ok(()))) {
                            continue;
                        }
                        let trailers = trailers_of(fields);
                        let sender = slot.take().expect("checked above");
                        let mut send = Box::pin(sender.send_trailers(trailers.clone()));
                        match send.as_mut().poll(&mut noop_context()) {
                            Poll::Ready(result) => assert_eq!(result.is_ok(), alive),
                            Poll::Pending => panic!("send_trailers pending after poll_ready"),
                        }
                        end = End::Trailers(trailers);
                    }
                    Op::Finish => {
                        slot.take().expect("checked above").finish();
                        end = End::Clean;
                    }
                    Op::Abort => {
                        slot.take().expect("checked above").abort();
                        end = End::Failed;
                    }
                    Op::Drop => {
                        drop(slot.take());
                        end = End::Failed;
                    }
                    Op::Poll(_) => unreachable!("matched above"),
                }
            }
            (Producer::Feed(feed), op) => {
                if !matches!(end, End::Open) {
                    continue;
                }
                match op {
                    Op::Data(data) | Op::Push(data) => {
                        let data = Bytes::copy_from_slice(data);
                        if plan.source == SourceKind::Reader {
                            // The reader body reads 16 KiB at a time.
                            for chunk in data.chunks(READ_CHUNK) {
                                frames.push(data.slice_ref(chunk));
                            }
                        } else if !data.is_empty() {
                            frames.push(data.clone());
                        }
                        feed.push(Step::Data(data));
                    }
                    Op::Trailers(_) => {}
                    Op::Finish => {
                        feed.close();
                        end = End::Clean;
                    }
                    Op::Abort => {
                        feed.push(Step::Error);
                        end = End::Failed;
                    }
                    Op::Drop => feed.push(Step::Pending),
                    Op::Poll(_) => unreachable!("matched above"),
                }
            }
        }
    }
    // The producer ends (a sender still there is dropped: an error).
    match &mut producer {
        Producer::Bytes => {}
        Producer::Channel(slot, _) => {
            if slot.take().is_some() {
                end = End::Failed;
            }
        }
        Producer::Feed(feed) => {
            if matches!(end, End::Open) {
                feed.close();
                end = End::Clean;
            }
        }
    }
    let mut polls = 0;
    while seen.outcome.is_none() {
        polls += 1;
        assert!(
            polls <= MAX_FINAL_POLLS,
            "the body did not end within {MAX_FINAL_POLLS} polls after its producer ended"
        );
        poll_consumer(&mut consumer, &mut seen, READ_CHUNK);
    }
    // After its end, a body yields `None` (VAL-9).
    if let Consumer::Frames(body) = &mut consumer {
        for _ in 0..2 {
            let after = Pin::new(&mut *body).poll_frame(&mut noop_context());
            assert!(
                matches!(after, Poll::Ready(None)),
                "a frame after the end: {after:?}"
            );
        }
    }

    let expected = model(
        &frames,
        &end,
        &limits,
        collect_max,
        hint_lower,
        plan.source == SourceKind::Bytes,
    );
    assert_eq!(
        seen.data.len(),
        expected.data.len(),
        "data length: seen {} expected {}; plan {plan:?}",
        seen.data.len(),
        expected.data.len()
    );
    assert!(seen.data == expected.data, "data differs; plan {plan:?}");
    // `into_reader` reports every error as an `io::Error`: the limit's is
    // not told apart there.
    let outcome = match (&consumer, &expected.outcome) {
        (Consumer::Reader(_), Outcome::Limit(_)) => Outcome::Failed,
        (_, outcome) => outcome.clone(),
    };
    assert_eq!(
        seen.outcome.as_ref(),
        Some(&outcome),
        "outcome; plan {plan:?}"
    );
    if matches!(consumer, Consumer::Frames(_) | Consumer::Collect(_)) {
        assert_eq!(seen.trailers, expected.trailers, "trailers; plan {plan:?}");
    }
}

struct Expected {
    data: Vec<u8>,
    trailers: Option<HeaderMap>,
    outcome: Outcome,
}

/// What the consumer must see: the frames in order until the first limit
/// crossed (`collect`'s maximum last), then the end.
fn model(
    frames: &[Bytes],
    end: &End,
    limits: &[u64],
    collect_max: Option<u64>,
    hint_lower: u64,
    exact_hint: bool,
) -> Expected {
    let mut expected = Expected {
        data: Vec::new(),
        trailers: None,
        outcome: Outcome::Ended,
    };
    if let Some(max) = collect_max {
        if hint_lower > max {
            expected.outcome = Outcome::Limit(max);
            return expected;
        }
    }
    let mut remaining: Vec<u64> = limits.to_vec();
    let mut length = 0u64;
    let mut crossed_any = false;
    for frame in frames {
        let len = frame.len() as u64;
        // A limit checks its inner body's size hint before polling it: with
        // an exact hint (bytes), the outermost limit below the length fails
        // first; otherwise the frame reaches the innermost limit first.
        let crossed = if exact_hint {
            (0..remaining.len()).rev().find(|&i| len > remaining[i])
        } else {
            (0..remaining.len()).find(|&i| len > remaining[i])
        };
        if let Some(i) = crossed {
            expected.outcome = Outcome::Limit(limits[i]);
            crossed_any = true;
            break;
        }
        for rest in &mut remaining {
            *rest -= len;
        }
        length += len;
        if let Some(max) = collect_max.filter(|&max| length > max) {
            expected.outcome = Outcome::Limit(max);
            crossed_any = true;
            break;
        }
        expected.data.extend_from_slice(frame);
    }
    if !crossed_any {
        match end {
            End::Open => unreachable!("the producer has ended"),
            End::Clean => {}
            End::Trailers(trailers) => expected.trailers = Some(trailers.clone()),
            End::Failed => expected.outcome = Outcome::Failed,
        }
    }
    // `collect` returns nothing but the error when it fails.
    if collect_max.is_some() && expected.outcome != Outcome::Ended {
        expected.data.clear();
    }
    expected
}

fn limit_of(error: &albany::Error) -> Outcome {
    match error.downcast_ref::<LengthLimitError>() {
        Some(limit) => Outcome::Limit(limit.limit()),
        None => Outcome::Failed,
    }
}

fn poll_consumer(consumer: &mut Consumer, seen: &mut Seen, buf_size: usize) {
    if seen.outcome.is_some() {
        return;
    }
    let mut cx = noop_context();
    match consumer {
        Consumer::Frames(body) => match Pin::new(body).poll_frame(&mut cx) {
            Poll::Pending => {}
            Poll::Ready(None) => seen.outcome = Some(Outcome::Ended),
            Poll::Ready(Some(Err(error))) => seen.outcome = Some(limit_of(&error)),
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => {
                    assert!(seen.trailers.is_none(), "data after trailers");
                    seen.data.extend_from_slice(&data);
                }
                Err(frame) => {
                    let trailers = frame.into_trailers().expect("data or trailers");
                    assert!(seen.trailers.is_none(), "trailers twice");
                    seen.trailers = Some(trailers);
                }
            },
        },
        Consumer::Collect(future) => match future.as_mut().poll(&mut cx) {
            Poll::Pending => {}
            Poll::Ready(Ok(collected)) => {
                let (data, trailers) = collected.into_parts();
                seen.data = data.to_vec();
                seen.trailers = trailers;
                seen.outcome = Some(Outcome::Ended);
            }
            Poll::Ready(Err(CollectError::TooLarge { limit })) => {
                seen.outcome = Some(Outcome::Limit(limit));
            }
            Poll::Ready(Err(CollectError::Body(error))) => seen.outcome = Some(limit_of(&error)),
            Poll::Ready(Err(other)) => panic!("an unknown collect error: {other}"),
        },
        Consumer::Reader(reader) => {
            let mut buf = vec![0; buf_size];
            match Pin::new(reader).poll_read(&mut cx, &mut buf) {
                Poll::Pending => {}
                Poll::Ready(Ok(0)) => seen.outcome = Some(Outcome::Ended),
                Poll::Ready(Ok(n)) => {
                    assert!(n <= buf_size);
                    seen.data.extend_from_slice(&buf[..n]);
                }
                Poll::Ready(Err(error)) => {
                    assert_eq!(error.kind(), io::ErrorKind::Other);
                    seen.outcome = Some(Outcome::Failed);
                }
            }
        }
        Consumer::DataStream(stream) => match Pin::new(stream).poll_next(&mut cx) {
            Poll::Pending => {}
            Poll::Ready(None) => seen.outcome = Some(Outcome::Ended),
            Poll::Ready(Some(Ok(data))) => seen.data.extend_from_slice(&data),
            Poll::Ready(Some(Err(error))) => seen.outcome = Some(limit_of(&error)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(bytes: &[u8]) -> Op {
        Op::Data(bytes.to_vec())
    }

    #[test]
    fn channel_through_a_limit_fails_exactly_when_crossing_it() {
        for sink in [
            SinkKind::Frames,
            SinkKind::Collect { max: 1000 },
            SinkKind::Reader,
            SinkKind::DataStream,
        ] {
            let plan = Plan {
                source: SourceKind::Channel { capacity: 4 },
                limits: vec![5],
                sink,
            };
            // 3 + 2 = 5 bytes fit; the third frame crosses the limit.
            run(
                plan,
                vec![
                    data(b"abc"),
                    Op::Poll(0),
                    data(b"de"),
                    Op::Poll(0),
                    Op::Poll(0),
                    data(b"f"),
                    Op::Finish,
                ],
            );
        }
    }

    #[test]
    fn model_of_nested_limits_and_collect() {
        let frames = [Bytes::from_static(b"abc"), Bytes::from_static(b"defg")];
        let limit =
            |limits: &[u64], max| model(&frames, &End::Clean, limits, max, 0, false).outcome;
        assert_eq!(limit(&[], None), Outcome::Ended);
        assert_eq!(limit(&[6, 5], None), Outcome::Limit(6));
        assert_eq!(limit(&[7, 5], None), Outcome::Limit(5));
        assert_eq!(limit(&[7], Some(6)), Outcome::Limit(6));
        let exact = model(&frames[1..], &End::Clean, &[2, 3], None, 4, true);
        assert_eq!(exact.outcome, Outcome::Limit(3));
    }

    #[test]
    fn trailers_and_errors_reach_the_consumer() {
        let plan = Plan {
            source: SourceKind::Channel { capacity: 100 },
            limits: vec![],
            sink: SinkKind::Collect { max: 100 },
        };
        run(plan, vec![data(b"abc"), Op::Trailers(vec![(1, 2)])]);
        for source in [SourceKind::Reader, SourceKind::Stream] {
            let plan = Plan {
                source,
                limits: vec![10],
                sink: SinkKind::Frames,
            };
            run(plan, vec![data(b"abc"), Op::Drop, Op::Poll(3), Op::Abort]);
        }
    }

    #[test]
    fn a_dropped_body_fails_the_sender() {
        let plan = Plan {
            source: SourceKind::Channel { capacity: 2 },
            limits: vec![],
            sink: SinkKind::Collect { max: 1 },
        };
        run(
            plan,
            vec![data(b"abc"), Op::Poll(0), data(b"d"), Op::Push(vec![1])],
        );
    }
}
