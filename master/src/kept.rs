//! Values kept with what the state endpoints write for them.

use std::cell::OnceCell;

/// A value with its rendering (its JSON, or parts of it) as last written
/// for a state document, kept until the value changes: any mutable access
/// (`DerefMut`) drops it, so it cannot outlive a change.
pub struct Kept<T, J = Box<str>> {
    value: T,
    written: OnceCell<J>,
}

impl<T, J> Kept<T, J> {
    /// Wraps `value`, with nothing written yet.
    pub fn new(value: T) -> Self {
        Self {
            value,
            written: OnceCell::new(),
        }
    }

    /// Drops the rendering kept, after something it shows changed outside
    /// the value.
    pub fn changed(&mut self) {
        self.written.take();
    }

    /// Returns the value.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// Whether a rendering is kept (written since the value last changed).
    pub fn is_written(&self) -> bool {
        self.written.get().is_some()
    }

    /// Returns what `write` makes of the value, calling it only the first
    /// time after the value was created or changed.
    pub fn written(&self, write: impl FnOnce(&T) -> J) -> &J {
        self.written.get_or_init(|| write(&self.value))
    }
}

impl<T, J: Default> Kept<T, J> {
    /// Returns the renderings kept for the value (`J` holds one cell per
    /// document that writes it, filled as each is written); empty after
    /// the value was created or changed.
    pub fn renderings(&self) -> &J {
        self.written(|_| J::default())
    }
}

impl<T> Kept<T> {
    /// Returns the value's JSON, written by `write` the first time after
    /// the value was created or changed.
    pub fn json(&self, write: impl FnOnce(&T, &mut String)) -> &str {
        self.written(|value| {
            let mut out = String::new();
            write(value, &mut out);
            out.into_boxed_str()
        })
    }
}

impl<T, J> std::ops::Deref for Kept<T, J> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T, J> std::ops::DerefMut for Kept<T, J> {
    fn deref_mut(&mut self) -> &mut T {
        self.written.take();
        &mut self.value
    }
}
