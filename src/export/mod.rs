//! Export: the store as Prometheus text (0.0.4, as mtail prints it), as OpenMetrics 1.0, as
//! mtail's JSON and as mtail's `/varz` page.

pub mod json;
pub mod openmetrics;
pub mod prometheus;
pub mod varz;

use crate::store::Metric;

/// Every metric of every program, in load order.
pub type Snapshot<'a> = Vec<&'a Metric>;
