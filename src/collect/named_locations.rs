//! Source `named_locations`: the conditional access named locations, so a policy that
//! leaves out `AllTrusted` or a named location can be reported by name ("not required from
//! trusted location Office-HQ").
//!
//! Graph: `GET /identity/conditionalAccess/namedLocations`
//! (<https://learn.microsoft.com/graph/api/conditionalaccessroot-list-namedlocations>,
//! Policy.Read.All). Items are `ipNamedLocation`
//! (<https://learn.microsoft.com/graph/api/resources/ipnamedlocation>: `isTrusted`,
//! `ipRanges`) or `countryNamedLocation`
//! (<https://learn.microsoft.com/graph/api/resources/countrynamedlocation>:
//! `countriesAndRegions`), told apart by `@odata.type`.

use serde_json::{Map, Value};

use super::{b, s, strings, Ctx};
use crate::snapshot::model::{NamedLocation, SourceId};

pub fn collect(ctx: &mut Ctx<'_>) {
    let outcome = ctx
        .graph
        .get_all("/v1.0/identity/conditionalAccess/namedLocations")
        .map(|items| {
            ctx.snapshot.conditional_access.named_locations =
                items.iter().filter_map(map).collect();
            ctx.snapshot.conditional_access.named_locations.len() as u64
        });
    ctx.record(SourceId::NamedLocations, outcome);
}

fn map(l: &Map<String, Value>) -> Option<NamedLocation> {
    let id = s(l, "id").filter(|id| !id.is_empty())?;
    let kind = match s(l, "@odata.type").as_deref() {
        Some("#microsoft.graph.ipNamedLocation") => "ip",
        Some("#microsoft.graph.countryNamedLocation") => "country",
        _ => "unknown",
    };
    let ip_ranges = l
        .get("ipRanges")
        .and_then(Value::as_array)
        .map(|ranges| {
            ranges
                .iter()
                .filter_map(|r| r.get("cidrAddress").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Some(NamedLocation {
        display_name: s(l, "displayName").unwrap_or_else(|| id.clone()),
        id,
        kind: kind.to_owned(),
        is_trusted: b(l, "isTrusted").unwrap_or(false),
        ip_ranges,
        countries_and_regions: strings(l.get("countriesAndRegions")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::test_object as obj;
    use serde_json::json;

    #[test]
    fn maps_ip_and_country_locations() {
        let ip = map(&obj(json!({
            "@odata.type": "#microsoft.graph.ipNamedLocation", "id": "l1",
            "displayName": "Office-HQ", "isTrusted": true,
            "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "203.0.113.0/24"}]
        })))
        .unwrap();
        assert_eq!((ip.kind.as_str(), ip.is_trusted), ("ip", true));
        assert_eq!(ip.ip_ranges, ["203.0.113.0/24"]);
        let country = map(&obj(json!({
            "@odata.type": "#microsoft.graph.countryNamedLocation", "id": "l2",
            "displayName": "EU", "countriesAndRegions": ["DE", "FR"]
        })))
        .unwrap();
        assert_eq!(country.kind, "country");
        assert!(!country.is_trusted);
        assert_eq!(country.countries_and_regions, ["DE", "FR"]);
    }

    #[test]
    fn odd_items_are_kept_or_skipped_without_a_crash() {
        let odd = map(&obj(
            json!({"id": "l3", "isTrusted": "yes", "ipRanges": "x"}),
        ))
        .unwrap();
        assert_eq!((odd.kind.as_str(), odd.is_trusted), ("unknown", false));
        assert_eq!(odd.display_name, "l3");
        assert!(map(&obj(json!({"displayName": "no id"}))).is_none());
    }
}
