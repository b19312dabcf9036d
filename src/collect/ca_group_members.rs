//! Source `ca_group_members`: every group a conditional access policy includes or
//! excludes, with its transitive user members, so a user left out through a nested,
//! dynamic or ordinary security group is seen as left out (before this, only role-assignable
//! groups' members were known, from role assignments).
//!
//! Graph, per group: `GET /groups/{id}?$select=id,displayName`
//! (<https://learn.microsoft.com/graph/api/group-get>), then
//! `GET /groups/{id}/transitiveMembers/microsoft.graph.user?$select=id` and
//! `.../transitiveMembers/microsoft.graph.group?$select=id,displayName`
//! (<https://learn.microsoft.com/graph/api/group-list-transitivemembers>: "a flat list of
//! all nested members"; the OData cast keeps one member type; pages of up to 999 with
//! `@odata.nextLink`). Groups found nested are read the same way, so each has its own
//! entry (a message can name the nested group, and the emulator can rebuild the nesting).
//! A group that no longer exists (404) is recorded as such: a policy naming a deleted group
//! covers or exempts nobody through it.

use std::collections::{BTreeSet, VecDeque};

use super::{s, Ctx};
use crate::graph::ApiError;
use crate::snapshot::model::{CaGroup, SourceId, SourceState};

pub fn collect(ctx: &mut Ctx<'_>) {
    // The groups come from the policies: without them there is nothing to resolve.
    let ca = ctx
        .snapshot
        .sources
        .get(&SourceId::ConditionalAccess)
        .cloned();
    match ca {
        Some(st) if st.status == SourceState::Ok => {}
        Some(st) => {
            let reason = format!(
                "conditional_access is {}: no policies to read groups from",
                match st.status {
                    SourceState::Unavailable => "unavailable",
                    _ => "not collected",
                }
            );
            ctx.set(SourceId::CaGroupMembers, st.status, &reason, 0);
            return;
        }
        None => {
            ctx.set(
                SourceId::CaGroupMembers,
                SourceState::Error,
                "conditional_access was not collected: no policies to read groups from",
                0,
            );
            return;
        }
    }
    let outcome = read_groups(ctx).map(|groups| {
        let n = groups.len() as u64;
        ctx.snapshot.conditional_access.groups = groups;
        n
    });
    ctx.record(SourceId::CaGroupMembers, outcome);
}

/// Group ids named by any policy's include or exclude conditions.
fn named_groups(ctx: &Ctx<'_>) -> BTreeSet<String> {
    ctx.snapshot
        .conditional_access
        .policies
        .iter()
        .flat_map(|p| p.include_groups.iter().chain(&p.exclude_groups))
        .cloned()
        .collect()
}

fn read_groups(ctx: &Ctx<'_>) -> Result<Vec<CaGroup>, ApiError> {
    let mut queue: VecDeque<String> = named_groups(ctx).into_iter().collect();
    let mut seen: BTreeSet<String> = queue.iter().cloned().collect();
    let mut out = Vec::new();
    while let Some(id) = queue.pop_front() {
        let group = read_group(ctx, &id)?;
        for nested in &group.nested_group_ids {
            if seen.insert(nested.clone()) {
                queue.push_back(nested.clone());
            }
        }
        out.push(group);
    }
    Ok(out)
}

fn read_group(ctx: &Ctx<'_>, id: &str) -> Result<CaGroup, ApiError> {
    let missing = || CaGroup {
        id: id.to_owned(),
        display_name: None,
        member_ids: Vec::new(),
        nested_group_ids: Vec::new(),
        not_found: true,
    };
    if !crate::graph::path::is_object_id(id) {
        return Ok(missing());
    }
    let group = match ctx
        .graph
        .get(&format!("/v1.0/groups/{id}?$select=id,displayName"))
    {
        Ok(group) => group,
        Err(ApiError::Status { status: 404, .. }) => return Ok(missing()),
        Err(e) => return Err(e),
    };
    let ids = |cast: &str, select: &str| -> Result<Vec<String>, ApiError> {
        let items = ctx.graph.get_all(&format!(
            "/v1.0/groups/{id}/transitiveMembers/microsoft.graph.{cast}?$select={select}&$top=999"
        ))?;
        let mut ids: Vec<String> = items.iter().filter_map(|m| s(m, "id")).collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    };
    Ok(CaGroup {
        id: id.to_owned(),
        display_name: group
            .get("displayName")
            .and_then(serde_json::Value::as_str)
            .filter(|n| !n.is_empty())
            .map(str::to_owned),
        member_ids: ids("user", "id")?,
        nested_group_ids: ids("group", "id,displayName")?,
        not_found: false,
    })
}
