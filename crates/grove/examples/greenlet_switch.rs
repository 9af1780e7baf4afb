//! Explicit switching between two raw greenlets: the classic example from greenlet's
//! documentation (`test1` prints 12, switches to `test2`, which prints 56 and switches back;
//! `test1` prints 34 and ends). `test2` never gets to print 78: nobody switches to it again.
//!
//! Mirrors: greenlet's `greenlet(run)` / `gr.switch()` and `getcurrent().parent`.
//!
//! Run: `cargo run -p grove --example greenlet_switch` (prints `12 56 34`).

use std::cell::OnceCell;
use std::rc::Rc;

use grove::Greenlet;

fn main() {
    grove::run(|| {
        // Each greenlet needs a handle to the other: create both, then fill in the cells.
        let gr1_cell: Rc<OnceCell<Greenlet>> = Rc::default();
        let gr2_cell: Rc<OnceCell<Greenlet>> = Rc::default();

        let other = gr2_cell.clone();
        let gr1 = Greenlet::new(move |_| {
            print!("12 ");
            other.get().expect("gr2 exists").switch(());
            print!("34");
            Box::new(())
        });
        let other = gr1_cell.clone();
        let gr2 = Greenlet::new(move |_| {
            print!("56 ");
            other.get().expect("gr1 exists").switch(());
            print!(" 78"); // never reached
            Box::new(())
        });
        gr1_cell.set(gr1.clone()).expect("set once");
        gr2_cell.set(gr2.clone()).expect("set once");

        // Both greenlets' parent is the main greenlet (their creator): when gr1 ends, its
        // return value comes back here, to the switch that started it.
        gr1.switch(());
        println!();
        assert!(gr1.is_finished());
        assert!(!gr2.is_finished(), "gr2 still waits inside its switch");
        // When the last handle to gr2 goes, it is unwound (greenlet's GreenletExit on
        // collection): its destructors run, and 78 is still never printed.
    });
}
