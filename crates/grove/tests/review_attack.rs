//! Adversarial review of the core changes (scopes unwinding with `ScopeExpired`, kill-again,
//! contained panics, raw-greenlet collection, generator drop, budget, Event generations, pool,
//! runtime). Each test is one attack; a failing test is a finding (see the review report).
//!
//! Every case runs under a watchdog (`conform`: 20 s) so a hang fails instead of stalling;
//! cases whose failure mode is an abort run in their own process (`isolated`).

#[path = "util/conform.rs"]
mod conform;

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use conform::{conform, isolated, ms, Counter, Flag, SetOnDrop, FOREVER};
use grove::greenlet::Greenlet;
use grove::pool::{Group, Pool};
use grove::sync::{Channel, Event, Queue, Semaphore};
use grove::{getcurrent, sleep, spawn, timeout, yield_now, Generator, GeneratorState};

/// Makes the hub take one loop turn (fire every due timer) before the caller (main) resumes:
/// a pending callback makes `yield_now` take a turn; the greenlets the timers wake are queued
/// behind main, so main runs before them.
fn fire_due_timers_then_resume_main_first() {
    grove::add_callback(|| {});
    yield_now();
}

// ---------------------------------------------------------------------------------------------
// Semaphore / WaitList: a waiter that timed out (timer fired, not yet run) steals the grant a
// later `release` handed to the next waiter.
// ---------------------------------------------------------------------------------------------

fn grant_stolen(a_body: impl FnOnce(Semaphore) + Send + 'static) {
    conform(move || {
        let sem = Semaphore::new(0);
        let s = sem.clone();
        let _a = spawn(move || a_body(s));
        let s = sem.clone();
        let got = Rc::new(Cell::new(false));
        let g = got.clone();
        let b = spawn(move || {
            let _p = s.acquire();
            g.set(true);
        });
        yield_now(); // A and B queue on the semaphore, A first
        assert_eq!(sem.waiting(), 2);
        // A's 10 ms deadline passes while the thread is busy; its timer fires in the next turn
        // and A is queued (woken with TimedOut) behind main.
        std::thread::sleep(ms(40));
        fire_due_timers_then_resume_main_first();
        // One permit: A's token is stale (already woken), so it goes to B.
        sem.release();
        let finished = b.wait_timeout(Duration::from_secs(5));
        let state = (got.get(), sem.available(), sem.waiting());
        assert!(
            finished,
            "B was handed the released permit but never got it: (got, available, waiting) = \
             {state:?}"
        );
    })
}

#[test]
fn semaphore_grant_stolen_by_waiter_whose_acquire_timeout_fired() {
    grant_stolen(|s| {
        assert!(s.acquire_timeout(ms(10)).is_none());
    });
}

#[test]
fn semaphore_grant_stolen_by_waiter_whose_scope_expired() {
    grant_stolen(|s| {
        let r = timeout(ms(10), || drop(s.acquire()));
        assert!(r.is_err());
    });
}

// ---------------------------------------------------------------------------------------------
// Channel::put inside a scope: the item was taken, yet `put` unwinds with Elapsed.
// ---------------------------------------------------------------------------------------------

#[test]
fn channel_put_in_scope_reports_elapsed_although_the_item_was_taken() {
    conform(|| {
        let ch: Channel<u32> = Channel::new();
        let tx = ch.clone();
        let putter = spawn(move || timeout(ms(10), || tx.put(7).is_ok()));
        yield_now(); // the putter offers 7 and waits
        std::thread::sleep(ms(40));
        fire_due_timers_then_resume_main_first(); // the putter's scope timer has fired
        assert_eq!(ch.try_get().ok(), Some(7), "the offer should still be there");
        let r = putter.join().unwrap();
        assert_eq!(
            r,
            Ok(true),
            "the getter took the item, but the putter was told its put timed out (Elapsed): \
             a retry would deliver it twice"
        );
    })
}

// ---------------------------------------------------------------------------------------------
// Kill delivered to a greenlet that is unwinding (scope expiry / panic) and switched away from
// a destructor: the kill unwinds from `switch` inside a destructor during cleanup -> abort.
// ---------------------------------------------------------------------------------------------

#[test]
fn kill_of_greenlet_switched_away_in_destructor_during_scope_unwind_does_not_abort() {
    isolated(|| {
        let me: Rc<RefCell<Option<Greenlet>>> = Rc::default();
        let m = me.clone();
        let done = Flag::new();
        let d2 = done.clone();
        let victim = spawn(move || {
            struct SwitchOnDrop(Greenlet);
            impl Drop for SwitchOnDrop {
                fn drop(&mut self) {
                    self.0.switch(());
                }
            }
            let m2 = m.clone();
            // A raw greenlet that, when switched to, kills the victim (which is suspended in
            // the switch) and ends.
            let killer = Greenlet::new(move |_| {
                m2.borrow().as_ref().unwrap().kill();
                Box::new(())
            });
            let r = timeout(ms(10), || {
                let _d = SwitchOnDrop(killer);
                sleep(FOREVER);
            });
            d2.set();
            r.is_err()
        });
        *me.borrow_mut() = Some(victim.greenlet());
        let r = victim.join();
        // Either outcome is acceptable (killed, or the kill ignored while unwinding); the
        // process must survive.
        let _ = (r, done.get());
    })
}

// ---------------------------------------------------------------------------------------------
// Group::kill from a member's destructor while the member unwinds from its scope expiry.
// ---------------------------------------------------------------------------------------------

#[test]
fn group_kill_from_member_destructor_during_scope_unwind_does_not_abort() {
    isolated(|| {
        let g = Group::new();
        let g2 = g.clone();
        let sibling = g.spawn(|| sleep(FOREVER));
        let h = g.spawn(move || {
            struct KillGroupOnDrop(Group);
            impl Drop for KillGroupOnDrop {
                fn drop(&mut self) {
                    self.0.kill();
                }
            }
            timeout(ms(10), || {
                let _k = KillGroupOnDrop(g2);
                sleep(FOREVER);
            })
            .is_err()
        });
        let _ = h.join();
        assert!(sibling.wait_timeout(Duration::from_secs(5)), "the sibling was not killed");
    })
}

// ---------------------------------------------------------------------------------------------
// A timeout scope around `Generator::resume` / `Greenlet::switch`: the resumer waits in a
// switch while the body blocks in the hub; the scope never fires (gevent throws Timeout into
// the waiting greenlet).
// ---------------------------------------------------------------------------------------------

#[test]
fn timeout_scope_around_generator_resume_fires_while_body_sleeps() {
    conform(|| {
        let mut gen: Generator<(), u32, ()> = Generator::new(|co, ()| {
            sleep(FOREVER);
            co.yield_(1);
        });
        let r = timeout(ms(20), || gen.resume(()));
        assert!(matches!(r, Err(_)), "the scope should have expired");
    })
}

// ---------------------------------------------------------------------------------------------
// Raw-greenlet collection: a suspended raw greenlet whose last handle went away while a child
// still counted it, is never collected when that child goes.
// ---------------------------------------------------------------------------------------------

#[test]
fn raw_greenlet_collected_when_its_last_child_goes_after_its_last_handle() {
    conform(|| {
        let base = grove::stats().alive;
        let unwound = Flag::new();
        let u = unwound.clone();
        let slot: Rc<RefCell<Option<Greenlet>>> = Rc::default();
        let s = slot.clone();
        let r = Greenlet::new(move |_| {
            let _guard = SetOnDrop(u);
            // A child whose parent is this greenlet, handed out.
            *s.borrow_mut() = Some(Greenlet::new(|_| Box::new(())));
            let p = getcurrent().parent().unwrap();
            p.switch(());
            Box::new(())
        });
        r.switch(()); // r runs, makes its child, switches back: r is suspended in switch
        drop(r); // not collected: its child would return to it
        let child = slot.borrow_mut().take().unwrap();
        drop(child); // the child never ran and is gone: nothing can ever switch to r now
        assert!(unwound.get(), "r is unreachable but was never unwound (its stack leaks)");
        assert_eq!(grove::stats().alive, base);
    })
}

// ---------------------------------------------------------------------------------------------
// Collection triggered from hub context: the last handle of a suspended raw greenlet is the
// result of a detached task; it is dropped by the scheduler (current = main's record while
// main is parked). `collect` then switches "from main", corrupting main's park.
// ---------------------------------------------------------------------------------------------

#[test]
fn collect_from_scheduler_context_keeps_main_parked() {
    conform(|| {
        let unwound = Flag::new();
        let u = unwound.clone();
        let r = Greenlet::new(move |_| {
            let _guard = SetOnDrop(u);
            let p = getcurrent().parent().unwrap();
            p.switch(());
            Box::new(())
        });
        r.switch(()); // suspended in switch, parent main
        let t = spawn(move || {
            sleep(ms(5));
            r // the last handle, as the detached task's result
        });
        drop(t);
        let start = Instant::now();
        sleep(ms(50)); // main parks; the task ends and its record (holding r) is dropped
        assert!(start.elapsed() >= ms(50), "main's sleep returned early");
        assert!(unwound.get(), "r was not collected");
    })
}
