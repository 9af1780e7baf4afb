//! Greenlet-level semantics: explicit switches with values, parents, throw.

use std::cell::RefCell;
use std::rc::Rc;

use grove::greenlet::{getcurrent, Greenlet, GreenletExit, Value};

type Log = Rc<RefCell<Vec<i32>>>;

/// The classic greenlet example: test1 and test2 switch to each other, printing 1 2 3 4.
#[test]
fn ping_pong_prints_1_2_3_4() {
    // Inside `run`: gr1 is left suspended, and `run` unwinds it at the end (outside `run` a
    // greenlet still suspended at thread exit is abandoned, which LeakSanitizer reports).
    grove::run(|| {
        let log: Log = Rc::default();
        let slot: Rc<RefCell<Option<Greenlet>>> = Rc::default();
        let (l1, l2, s1) = (log.clone(), log.clone(), slot.clone());
        let gr1 = Greenlet::new(move |_| {
            l1.borrow_mut().push(1);
            let g2 = s1.borrow().clone().unwrap();
            g2.switch(());
            l1.borrow_mut().push(3);
            g2.switch(());
            Box::new(())
        });
        let g1 = gr1.clone();
        let gr2 = Greenlet::new(move |_| {
            l2.borrow_mut().push(2);
            g1.switch(());
            l2.borrow_mut().push(4);
            Box::new(())
        });
        *slot.borrow_mut() = Some(gr2.clone());
        gr1.switch(());
        // gr2 finished last; its parent (main) got control back.
        assert_eq!(*log.borrow(), [1, 2, 3, 4]);
        assert!(gr2.is_finished());
        assert!(!gr1.is_finished(), "gr1 still waits in its second switch");
    });
}

#[test]
fn values_flow_both_ways() {
    let g = Greenlet::new(|first: Value| {
        let a = *first.downcast::<i32>().unwrap();
        let main = getcurrent().parent().unwrap();
        let b = *main.switch(a + 1).downcast::<i32>().unwrap();
        Box::new(format!("done {}", a + b))
    });
    let r1 = g.switch(10);
    assert_eq!(*r1.downcast::<i32>().unwrap(), 11);
    let r2 = g.switch(5);
    assert_eq!(*r2.downcast::<String>().unwrap(), "done 15");
    assert!(g.is_finished());
    // Switching to a dead greenlet hands the value straight back.
    assert_eq!(*g.switch(7).downcast::<i32>().unwrap(), 7);
}

#[test]
fn return_goes_to_parent_not_caller() {
    let log: Log = Rc::default();
    let l = log.clone();
    // `parent` is created by main; `child` is created by main too but re-parented to `parent`.
    let parent = Greenlet::new(move |v| {
        l.borrow_mut().push(*v.downcast::<i32>().unwrap());
        let child_result = getcurrent().parent().unwrap().switch("waiting");
        l.borrow_mut().push(*child_result.downcast::<i32>().unwrap());
        Box::new(())
    });
    assert_eq!(*parent.switch(1).downcast::<&str>().unwrap(), "waiting");
    let child = Greenlet::new(|_| Box::new(99));
    child.set_parent(&parent);
    // Main switches to child; child returns 99 into `parent` (which then finishes into main).
    child.switch(());
    assert_eq!(*log.borrow(), [1, 99]);
    assert!(parent.is_finished() && child.is_finished());
}

struct DropCounter(Rc<RefCell<u32>>);
impl Drop for DropCounter {
    fn drop(&mut self) {
        *self.0.borrow_mut() += 1;
    }
}

#[test]
fn throw_unwinds_and_runs_destructors() {
    let drops = Rc::new(RefCell::new(0));
    let d = drops.clone();
    let g = Greenlet::new(move |_| {
        let _guard = DropCounter(d);
        getcurrent().parent().unwrap().switch(());
        unreachable!("thrown into before this");
    });
    g.switch(());
    assert_eq!(*drops.borrow(), 0);
    let back = g.throw().expect("parent receives the GreenletExit");
    assert!(back.downcast_ref::<GreenletExit>().is_some());
    assert_eq!(*drops.borrow(), 1);
    assert!(g.is_finished());
}

#[test]
fn throw_into_new_greenlet_means_it_never_runs() {
    let ran = Rc::new(RefCell::new(false));
    let r = ran.clone();
    let drops = Rc::new(RefCell::new(0));
    let guard = DropCounter(drops.clone());
    let g = Greenlet::new(move |_| {
        let _g = guard;
        *r.borrow_mut() = true;
        Box::new(())
    });
    assert!(g.throw().is_none());
    assert!(g.is_finished());
    assert!(!*ran.borrow());
    assert_eq!(*drops.borrow(), 1, "the closure's captures were dropped");
}

#[test]
fn panic_in_child_continues_in_parent() {
    let g = Greenlet::new(|_| panic!("child failed"));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.switch(())));
    let p = r.unwrap_err();
    assert_eq!(*p.downcast::<&str>().unwrap(), "child failed");
    assert!(g.is_finished());
}

#[test]
fn raw_greenlet_may_block_in_the_hub() {
    let g = Greenlet::new(|_| {
        grove::sleep(std::time::Duration::from_millis(5));
        Box::new("slept")
    });
    assert_eq!(*g.switch(()).downcast::<&str>().unwrap(), "slept");
}

#[test]
fn names_and_ids() {
    let main = getcurrent();
    assert!(main.is_main());
    assert_eq!(main.name().as_deref(), Some("main"));
    let g = Greenlet::new(|_| Box::new(()));
    g.set_name("worker");
    assert_eq!(g.name().as_deref(), Some("worker"));
    assert_ne!(g.id(), main.id());
    assert_eq!(g.parent(), Some(main));
    g.switch(());
}
