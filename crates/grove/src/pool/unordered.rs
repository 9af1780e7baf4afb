//! The iterator behind `Pool::imap_unordered`.

#[allow(clippy::wildcard_imports)] // a split of the parent module: same names
use super::*;

/// What an `imap_unordered` consumer receives.
pub(super) enum Fed<R> {
    Done(Result<R, JoinError>),
    InputPanicked(Box<dyn Any + Send>),
}

/// Closes the result queue once its last holder (the feeder and the workers) is gone.
pub(super) struct CloseOnDrop<R>(pub(super) Queue<Fed<R>>);

impl<R> Drop for CloseOnDrop<R> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// A worker's duty to yield exactly one result: `Killed` if it ends (or is killed before it
/// starts) without having sent one.
pub(super) struct Report<R> {
    pub(super) out: Queue<Fed<R>>,
    pub(super) sent: bool,
    pub(super) _close: Rc<CloseOnDrop<R>>,
}

impl<R> Drop for Report<R> {
    fn drop(&mut self) {
        if !self.sent {
            let _ = self.out.put(Fed::Done(Err(JoinError::Killed)));
        }
    }
}

pub(super) struct ImapUnordered<R> {
    pub(super) results: Queue<Fed<R>>,
    /// This call's feeder and workers.
    pub(super) own: Group,
    pub(super) done: bool,
}

impl<R> Iterator for ImapUnordered<R> {
    type Item = Result<R, JoinError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let got = self.results.get();
        match got {
            Ok(Fed::Done(r)) => Some(r),
            Ok(Fed::InputPanicked(p)) => {
                self.done = true;
                let _ = self.own.kill();
                panic::resume_unwind(p)
            }
            Err(RecvError::Wait(WaitError::Deadlock)) => {
                self.done = true;
                Some(Err(JoinError::Wait(WaitError::Deadlock)))
            }
            Err(RecvError::Closed | RecvError::Wait(_)) => {
                self.done = true;
                None
            }
        }
    }
}

/// Dropping the iterator cancels the rest of its work.
impl<R> Drop for ImapUnordered<R> {
    fn drop(&mut self) {
        let _ = self.own.kill();
    }
}
