//! Export: the store as Prometheus text (0.0.4, as mtail prints it), as OpenMetrics 1.0 and as
//! mtail's JSON.

pub mod json;
pub mod openmetrics;
pub mod prometheus;

use crate::store::Metric;

/// Every metric of every program, in load order.
pub type Snapshot<'a> = Vec<&'a Metric>;
