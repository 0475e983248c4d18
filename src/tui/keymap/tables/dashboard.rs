//! The dashboard's keys, with no overlay open: the largest table, on its own.

use super::*;

const TRAINING: &[Tab] = &[Tab::Training];
const IMAGES: &[Tab] = &[Tab::Filters, Tab::Activations];
const ACTIVATIONS: &[Tab] = &[Tab::Activations];
const FILTERS: &[Tab] = &[Tab::Filters];
const NETWORK: &[Tab] = &[Tab::Network];

/// The dashboard with no overlay open.
pub const DASHBOARD: &[Binding] = &[
    bind(
        &[
            (ch('1'), Action::ShowTab(Tab::Training)),
            (ch('2'), Action::ShowTab(Tab::Filters)),
            (ch('3'), Action::ShowTab(Tab::Activations)),
            (ch('4'), Action::ShowTab(Tab::Network)),
            (ch('5'), Action::ShowTab(Tab::Data)),
            (code(KeyCode::Tab), Action::NextTab),
            (code(KeyCode::BackTab), Action::PrevTab),
        ],
        "1-5 Tab",
        "switch screen",
        None,
    ),
    bind(
        &[(ch(' '), Action::TogglePause)],
        "space",
        "pause / resume",
        Some("pause"),
    ),
    bind(
        &[(ch('n'), Action::Step)],
        "n",
        "one step (while paused)",
        Some("step"),
    ),
    bind(
        &[(ch('e'), Action::EvaluateNow)],
        "e",
        "evaluate now",
        Some("eval"),
    ),
    bind(
        &[(ch('T'), Action::EvaluateTest)],
        "T",
        "TEST set (asks; recorded)",
        None,
    ),
    bind(
        &[(ch('s'), Action::Save)],
        "s",
        "save a checkpoint",
        Some("save"),
    ),
    bind(
        &[(ch('b'), Action::Rollback)],
        "b",
        "back to the best checkpoint",
        Some("best"),
    ),
    bind(
        &[(ch('x'), Action::Export)],
        "x",
        "export PNGs and metrics.csv",
        None,
    ),
    bind(
        &[(ch('d'), Action::Detach)],
        "d",
        "detach: leave an attached training running",
        None,
    ),
    bind(
        &[(ch('q'), Action::Quit), (ctrl('c'), Action::Quit)],
        "q ^C",
        "quit (asks while training; checkpoint)",
        Some("quit"),
    ),
    bind(
        &[
            (ch('?'), Action::OpenHelp),
            (code(KeyCode::F(1)), Action::OpenHelp),
        ],
        "? F1",
        "all keys",
        Some("keys"),
    ),
    bind(
        &[(code(KeyCode::Esc), Action::ClearStatus)],
        "Esc",
        "clear the message",
        None,
    ),
    on(
        TRAINING,
        bind(
            &[
                (code(KeyCode::Up), Action::SelectKnob(-1)),
                (code(KeyCode::Down), Action::SelectKnob(1)),
            ],
            "↑ ↓",
            "choose a knob",
            Some("knob"),
        ),
    ),
    on(
        TRAINING,
        bind(
            &[
                (
                    code(KeyCode::Left),
                    Action::StepKnob {
                        is_up: false,
                        is_big: false,
                    },
                ),
                (
                    code(KeyCode::Right),
                    Action::StepKnob {
                        is_up: true,
                        is_big: false,
                    },
                ),
                (
                    shift(KeyCode::Left),
                    Action::StepKnob {
                        is_up: false,
                        is_big: true,
                    },
                ),
                (
                    shift(KeyCode::Right),
                    Action::StepKnob {
                        is_up: true,
                        is_big: true,
                    },
                ),
            ],
            "← →",
            "÷2 ×2 the knob (shift ÷10 ×10)",
            Some("change"),
        ),
    ),
    on(
        TRAINING,
        bind(
            &[(code(KeyCode::Enter), Action::EditKnob)],
            "⏎",
            "type a knob value",
            None,
        ),
    ),
    on(
        TRAINING,
        bind(
            &[(ch('l'), Action::ToggleLogScale)],
            "l",
            "log-scale loss",
            Some("log"),
        ),
    ),
    on(
        TRAINING,
        bind(
            &[(ch('z'), Action::ToggleZoom)],
            "z",
            "recent / whole run",
            Some("zoom"),
        ),
    ),
    on(
        TRAINING,
        bind(
            &[
                (ch('['), Action::Smoothing(-1)),
                (ch(']'), Action::Smoothing(1)),
            ],
            "[ ]",
            "less / more smoothing",
            Some("smooth"),
        ),
    ),
    on(
        TRAINING,
        bind(
            &[(ch('i'), Action::Inspect)],
            "i",
            "inspect: a cursor on the charts",
            Some("inspect"),
        ),
    ),
    on(
        TRAINING,
        bind(
            &[(ch('r'), Action::ToggleFullRange)],
            "r",
            "charts: full range / ignore outliers",
            None,
        ),
    ),
    on(
        TRAINING,
        bind(
            &[(ch('w'), Action::ToggleTimeAxis)],
            "w",
            "charts: x axis in epochs / wall-clock time",
            None,
        ),
    ),
    on(
        TRAINING,
        bind(
            &[(ch('o'), Action::OpenRuns)],
            "o",
            "runs table: draw earlier runs behind this one",
            Some("runs"),
        ),
    ),
    on(
        TRAINING,
        bind(
            &[
                (ch('j'), Action::SelectAdvice(1)),
                (ch('k'), Action::SelectAdvice(-1)),
            ],
            "j k",
            "choose a diagnostic (in its full text: scroll)",
            None,
        ),
    ),
    on(
        TRAINING,
        bind(
            &[(ch('v'), Action::ToggleAdviceDetail)],
            "v",
            "the diagnostic's full text / the list",
            None,
        ),
    ),
    on(
        TRAINING,
        bind(
            &[(ch('a'), Action::ApplyAdvice)],
            "a",
            "apply the diagnostic's advice",
            None,
        ),
    ),
    bind(
        &[(ch('A'), Action::ToggleAutopilot)],
        "A",
        "autopilot on / off (applies advice itself)",
        None,
    ),
    on(
        IMAGES,
        bind(
            &[
                (code(KeyCode::Up), Action::Layer(-1)),
                (code(KeyCode::Down), Action::Layer(1)),
                (ch('<'), Action::Layer(-1)),
                (ch('>'), Action::Layer(1)),
                (code(KeyCode::PageUp), Action::Layer(-1)),
                (code(KeyCode::PageDown), Action::Layer(1)),
            ],
            "↑ ↓ < > PgUp PgDn",
            "choose the layer",
            Some("layer"),
        ),
    ),
    on(
        ACTIVATIONS,
        bind(
            &[
                (code(KeyCode::Left), Action::Input(-1)),
                (code(KeyCode::Right), Action::Input(1)),
                (ch(','), Action::Input(-1)),
                (ch('.'), Action::Input(1)),
            ],
            "← → , .",
            "choose the input image",
            Some("image"),
        ),
    ),
    on(
        NETWORK,
        bind(
            &[
                (code(KeyCode::Up), Action::ScrollNetwork(-1)),
                (code(KeyCode::Down), Action::ScrollNetwork(1)),
                (ch('k'), Action::ScrollNetwork(-1)),
                (ch('j'), Action::ScrollNetwork(1)),
                (code(KeyCode::PageUp), Action::ScrollNetwork(-10)),
                (code(KeyCode::PageDown), Action::ScrollNetwork(10)),
            ],
            "↑ ↓ j k PgUp PgDn",
            "scroll the layers (when they do not fit)",
            Some("scroll"),
        ),
    ),
    on(
        FILTERS,
        bind(
            &[(ch('g'), Action::ToggleGrads)],
            "g",
            "gradients beside filters",
            Some("gradients"),
        ),
    ),
];
