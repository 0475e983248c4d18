//! The screens (tabs) and the state each keeps of its own: what it shows and how.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tab {
    Training,
    Filters,
    Activations,
    Network,
    Data,
}

impl Tab {
    pub const ALL: [Tab; 5] = [
        Tab::Training,
        Tab::Filters,
        Tab::Activations,
        Tab::Network,
        Tab::Data,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Training => "Training",
            Tab::Filters => "Filters",
            Tab::Activations => "Activations",
            Tab::Network => "Network",
            Tab::Data => "Data",
        }
    }

    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    /// The tab `delta` places further, wrapping around.
    pub fn cycle(self, delta: isize) -> Tab {
        let n = Tab::ALL.len() as isize;
        Tab::ALL[(self.index() as isize + delta).rem_euclid(n) as usize]
    }
}

/// The training screen: the chosen knob and how the charts draw.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingView {
    pub selected_knob: usize,
    pub is_log_scale: bool,
    /// The whole run, or the recent window (`z`).
    pub is_whole_run: bool,
    /// TensorBoard's smoothing weight, 0 (raw) to 0.99.
    pub smoothing: f64,
    /// `r`: the charts' full y-range, outliers included, instead of the fitted one.
    pub is_full_range: bool,
    /// `w`: wall-clock time on the x axis instead of epochs.
    pub is_time_axis: bool,
}

impl Default for TrainingView {
    fn default() -> Self {
        TrainingView {
            selected_knob: 0,
            is_log_scale: false,
            is_whole_run: true,
            smoothing: 0.6,
            is_full_range: false,
            is_time_axis: false,
        }
    }
}

/// The filters screen: which layer's filters, and whether their gradients show beside them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FiltersView {
    pub layer: usize,
    pub is_showing_grads: bool,
}

/// The network screen: how far its layer table is scrolled.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetworkView {
    /// Layers scrolled off the top.
    pub scroll: usize,
    /// The largest useful `scroll` at the last draw: the layers beyond the table's rows.
    pub max_scroll: std::cell::Cell<usize>,
}

/// The activations screen: which layer, and which validation image goes through the net.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActivationsView {
    pub layer: usize,
    pub input_index: usize,
    /// Until the person picks an image, the trainer's choice is followed.
    pub is_input_chosen: bool,
}
