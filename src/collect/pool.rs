//! The one worker pool of the collectors: a per-item Exchange or Graph call run by up to
//! the client's concurrency limit of threads (Exchange Online throttles per tenant, so
//! the limit comes from the client, never from the number of items).

use std::sync::atomic::{AtomicUsize, Ordering};

/// `f` for every item by up to `concurrency` scoped threads; one answer per item, in the
/// items' order. A worker that panics leaves its items unanswered: they come back as
/// `on_lost(item)`, so a crash is reported like any other failure and never drops an item.
pub fn map_concurrent<I, T, F, L>(concurrency: usize, items: &[I], f: F, on_lost: L) -> Vec<T>
where
    I: Sync,
    T: Send,
    F: Fn(&I) -> T + Sync,
    L: Fn(&I) -> T,
{
    let next = AtomicUsize::new(0);
    let mut slots: Vec<Option<T>> = (0..items.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let workers = concurrency.clamp(1, items.len().max(1));
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else {
                            return done;
                        };
                        done.push((i, f(item)));
                    }
                })
            })
            .collect();
        for handle in handles {
            if let Ok(done) = handle.join() {
                for (i, answer) in done {
                    if let Some(slot) = slots.get_mut(i) {
                        *slot = Some(answer);
                    }
                }
            }
        }
    });
    slots
        .into_iter()
        .zip(items)
        .map(|(slot, item)| slot.unwrap_or_else(|| on_lost(item)))
        .collect()
}

/// `f` for chunks of up to `chunk` items (one Exchange `$batch` worth of mailboxes) by up
/// to `concurrency` threads; `f` answers one per item of its chunk, in order. Items a
/// chunk left unanswered (a panic, a short answer) come back as `on_lost(item)`.
pub fn map_chunks<I, T, F, L>(
    concurrency: usize,
    chunk: usize,
    items: &[I],
    f: F,
    on_lost: L,
) -> Vec<T>
where
    I: Sync,
    T: Send,
    F: Fn(&[I]) -> Vec<T> + Sync,
    L: Fn(&I) -> T,
{
    let chunks: Vec<&[I]> = items.chunks(chunk.max(1)).collect();
    let answers = map_concurrent(concurrency, &chunks, |c| Some(f(c)), |_| None);
    chunks
        .iter()
        .zip(answers)
        .flat_map(|(c, answer)| {
            let mut answer = answer.unwrap_or_default().into_iter();
            c.iter()
                .map(|item| answer.next().unwrap_or_else(|| on_lost(item)))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn chunks_answer_every_item_in_order() {
        let items: Vec<u32> = (0..23).collect();
        let answers = map_chunks(
            4,
            10,
            &items,
            |c| {
                // The middle chunk answers short: its missing items are reported lost.
                if c.first() == Some(&10) {
                    c.iter().take(3).map(|i| Ok(i * 2)).collect()
                } else {
                    c.iter().map(|i| Ok(i * 2)).collect()
                }
            },
            |&i| Err(i),
        );
        assert_eq!(answers.len(), 23);
        assert_eq!(answers[0], Ok(0));
        assert_eq!(answers[12], Ok(24));
        assert_eq!(answers[13], Err(13));
        assert_eq!(answers[22], Ok(44));
    }

    use super::*;

    #[test]
    fn answers_come_back_in_the_items_order() {
        let items: Vec<u32> = (0..200).collect();
        let answers = map_concurrent(7, &items, |i| i * 2, |_| u32::MAX);
        assert_eq!(answers, items.iter().map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn a_panicking_worker_loses_no_item() {
        let items: Vec<u32> = (0..50).collect();
        let answers = map_concurrent(
            3,
            &items,
            |&i| {
                if i == 10 {
                    panic!("boom");
                }
                Ok(i)
            },
            |&i| Err(i),
        );
        assert_eq!(answers.len(), 50);
        assert_eq!(answers[10], Err(10));
        assert!(answers.iter().filter(|a| a.is_ok()).count() >= 1);
    }

    #[test]
    fn no_items_no_threads() {
        let answers = map_concurrent(4, &[] as &[u8], |_| 1, |_| 0);
        assert!(answers.is_empty());
    }
}
