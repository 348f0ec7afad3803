//! Continuous batching: one thread owns the engine and decodes every running
//! request in the same step. A request joins as soon as it arrives and there
//! is room (its prompt is prefilled, with prefix reuse, then it decodes with
//! the others) and leaves as soon as it finishes, so short answers never wait
//! for long ones.
//!
//! Outputs are the engine's own: the prefill is the single-request one, and a
//! batched step gives every sequence the logits a single step gives it, to the
//! bit. A panic while serving a request fails the requests it touched, not the
//! batcher.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::cache::KvCache;
use crate::constrain::Constraint;
use crate::decoding::Decoding;
use crate::engine::{Engine, GenerateParams, Generation};
use crate::error::{ModelError, Result};

/// Sequences decoded in one step unless a caller says otherwise.
pub const DEFAULT_MAX_BATCH: usize = 8;

/// One generation request.
pub struct Job {
    pub prompt: Vec<u32>,
    pub params: GenerateParams,
    pub constraint: Option<Box<dyn Constraint>>,
    /// Receives the text as it is produced, on the batcher's thread.
    pub on_text: Box<dyn FnMut(&str) + Send>,
}

/// A finished request.
#[derive(Debug, Clone)]
pub struct Finished {
    pub generation: Generation,
    /// From the start of its prefill to its last token (not the wait before).
    pub latency: Duration,
}

struct Queued {
    job: Job,
    reply: oneshot::Sender<Result<Finished>>,
}

/// The engine behind a queue, decoding up to `max_batch` requests per step.
pub struct Batcher {
    engine: Arc<Engine>,
    queue: Mutex<Option<mpsc::Sender<Queued>>>,
    worker: Option<JoinHandle<()>>,
    max_batch: usize,
    largest: Arc<AtomicUsize>,
}

impl Batcher {
    /// Starts the batching thread (`max_batch` 0 counts as 1).
    pub fn start(engine: Engine, max_batch: usize) -> Result<Self> {
        let engine = Arc::new(engine);
        let max_batch = max_batch.max(1);
        let (sender, receiver) = mpsc::channel();
        let largest = Arc::new(AtomicUsize::new(0));
        let worker = {
            let engine = Arc::clone(&engine);
            let largest = Arc::clone(&largest);
            std::thread::Builder::new()
                .name("toolgrad-batcher".into())
                .spawn(move || serve(&engine, &receiver, max_batch, &largest))
                .map_err(|e| ModelError::Setup(format!("starting the batching thread: {e}")))?
        };
        Ok(Self {
            engine,
            queue: Mutex::new(Some(sender)),
            worker: Some(worker),
            max_batch,
            largest,
        })
    }

    /// The engine (for its tokenizer, template and statistics).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    /// The most requests that have shared one step so far.
    pub fn largest_batch(&self) -> usize {
        self.largest.load(Ordering::Relaxed)
    }

    /// Queues a request; the receiver gets its outcome when it finishes.
    /// Dropping the receiver abandons the request.
    pub fn submit(&self, job: Job) -> oneshot::Receiver<Result<Finished>> {
        let (reply, receiver) = oneshot::channel();
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let queued = Queued { job, reply };
        let refused = match queue.as_ref() {
            Some(queue) => queue.send(queued).err().map(|e| e.0),
            None => Some(queued),
        };
        if let Some(queued) = refused {
            let _ = queued.reply.send(Err(ModelError::Batch(
                "the batching thread has stopped".into(),
            )));
        }
        receiver
    }

    /// Runs a request and waits for it (not from inside an async runtime).
    pub fn run(&self, job: Job) -> Result<Finished> {
        self.submit(job)
            .blocking_recv()
            .unwrap_or_else(|_| Err(ModelError::Batch("the batching thread has stopped".into())))
    }
}

impl Drop for Batcher {
    fn drop(&mut self) {
        // Closing the queue ends the thread once the running requests finish.
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// A request between steps.
struct Running {
    decoding: Decoding,
    cache: KvCache,
    /// The token to run in the next step.
    next: u32,
    on_text: Box<dyn FnMut(&str) + Send>,
    reply: oneshot::Sender<Result<Finished>>,
    started: Instant,
}

impl Running {
    fn finish(mut self) {
        let generation = self.decoding.finish(&mut *self.on_text);
        let latency = self.started.elapsed();
        let _ = self.reply.send(Ok(Finished {
            generation,
            latency,
        }));
    }
}

fn serve(engine: &Engine, queue: &mpsc::Receiver<Queued>, max_batch: usize, largest: &AtomicUsize) {
    let mut running: Vec<Running> = Vec::new();
    loop {
        while running.len() < max_batch {
            let queued = if running.is_empty() {
                match queue.recv() {
                    Ok(queued) => queued,
                    Err(_) => return,
                }
            } else {
                match queue.try_recv() {
                    Ok(queued) => queued,
                    Err(_) => break,
                }
            };
            if let Some(admitted) = admit(engine, queued) {
                running.push(admitted);
            }
        }
        running.retain(|r| !r.reply.is_closed());
        if !running.is_empty() {
            largest.fetch_max(running.len(), Ordering::Relaxed);
            step(engine, &mut running);
        }
    }
}

/// Prefills a request and picks its first token; `None` when it is already done.
fn admit(engine: &Engine, queued: Queued) -> Option<Running> {
    let Queued { mut job, reply } = queued;
    if reply.is_closed() {
        return None;
    }
    let started = Instant::now();
    let outcome = guarded(|| {
        let (mut decoding, logits, cache) =
            engine.start(&job.prompt, &job.params, job.constraint.take())?;
        let next = decoding.next(&engine.tokenizer, &logits, &mut *job.on_text)?;
        Ok((decoding, cache, next))
    });
    match outcome {
        Err(e) => {
            let _ = reply.send(Err(e));
            None
        }
        Ok((decoding, cache, next)) => {
            let running = Running {
                decoding,
                cache,
                next: next.unwrap_or_default(),
                on_text: job.on_text,
                reply,
                started,
            };
            match next {
                Some(_) => Some(running),
                None => {
                    running.finish();
                    None
                }
            }
        }
    }
}

/// Runs one step for every running request, then lets each pick its next token.
fn step(engine: &Engine, running: &mut Vec<Running>) {
    let tokens: Vec<u32> = running.iter().map(|r| r.next).collect();
    let logits = guarded(|| {
        let mut caches: Vec<&mut KvCache> = running.iter_mut().map(|r| &mut r.cache).collect();
        engine.step_batch(&tokens, &mut caches)
    });
    let logits = match logits {
        Ok(logits) => logits,
        Err(e) => {
            // The caches may hold half a step: every request of it fails.
            let message = e.to_string();
            for r in running.drain(..) {
                let _ = r.reply.send(Err(ModelError::Batch(message.clone())));
            }
            return;
        }
    };
    let mut kept = Vec::with_capacity(running.len());
    for (mut r, logits) in running.drain(..).zip(logits) {
        let next = guarded(|| r.decoding.next(&engine.tokenizer, &logits, &mut *r.on_text));
        match next {
            Ok(Some(token)) => {
                r.next = token;
                kept.push(r);
            }
            Ok(None) => r.finish(),
            Err(e) => {
                let _ = r.reply.send(Err(e));
            }
        }
    }
    *running = kept;
}

/// `work()`, with a panic turned into an error.
fn guarded<T>(work: impl FnOnce() -> Result<T>) -> Result<T> {
    panic::catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|payload| {
        Err(ModelError::Batch(format!(
            "the engine panicked: {}",
            panic_message(payload.as_ref())
        )))
    })
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}
