//! Turns on a listening target: its cells run one at a time and in plan order (what its one
//! sshd does between connections — penalties, limits — then follows the plan, and each cell's
//! lines can be cut from the daemon's log). A cell waits for the cells of the target before it;
//! its turn passes on when the cell ends however it ends (a timeout, a panic, a stop).

use std::collections::HashMap;

use tokio::sync::Notify;

/// The turns of one target's cells.
pub(super) struct Turns {
    /// Cell index → its place among the target's cells.
    place: HashMap<usize, usize>,
    /// The place whose turn it is.
    now: std::sync::Mutex<usize>,
    moved: Notify,
}

/// A cell's turn: held while the cell runs, passed on when dropped.
pub(super) struct Turn<'a>(&'a Turns);

impl Turns {
    /// Turns for the cells `cells` (indices, in plan order).
    pub(super) fn new(cells: impl Iterator<Item = usize>) -> Turns {
        Turns {
            place: cells.enumerate().map(|(place, i)| (i, place)).collect(),
            now: std::sync::Mutex::new(0),
            moved: Notify::new(),
        }
    }

    /// Waits for cell `i`'s turn (a cell the target does not have goes at once).
    pub(super) async fn wait(&self, i: usize) -> Option<Turn<'_>> {
        let place = *self.place.get(&i)?;
        loop {
            let moved = self.moved.notified();
            tokio::pin!(moved);
            moved.as_mut().enable();
            if *self.now.lock().expect("turns") >= place {
                return Some(Turn(self));
            }
            moved.await;
        }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        *self.0.now.lock().expect("turns") += 1;
        self.0.moved.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn cells_take_their_turns_in_plan_order_whoever_asks_first() {
        let turns = Arc::new(Turns::new([1, 4, 6, 9].into_iter()));
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        // Asked in reverse: each still runs after the ones before it.
        let mut tasks = Vec::new();
        for i in [9, 6, 4, 1] {
            let (turns, order) = (turns.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _turn = turns.wait(i).await.unwrap();
                order.lock().unwrap().push(i);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), [1, 4, 6, 9]);
        assert!(turns.wait(2).await.is_none());
    }
}
