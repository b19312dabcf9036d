//! `m365guard permissions [--fix] [--format table|json|markdown]`: what to grant the app,
//! per snapshot source (and with `--fix` per fix action), printed from the one permission
//! table (`snapshot::source::SOURCES`, `ActionKind::needs`). Needs no tenant and no
//! sign-in. The markdown form is README's "Permissions" section (a test keeps them equal).
//!
//! JSON (`schema_version` 1; fields are only ever added):
//! `{"schema_version":1,"sources":[Source…],"fix_actions":[Action…],"investigation":[Evidence…]}`
//! — `fix_actions` only with `--fix`. An Evidence row is `{"source","reads",
//! "graph_permissions":[Need…],"exchange_permission":string|null,"entra_roles":[string…],
//! "licence":string|null}`: what `investigate` reads (`permission::INVESTIGATION`). A Source is `{"source","service":"graph"|"exchange"|"joined","reads",
//! "graph_permissions":[Need…],"exchange_permission":string|null,"entra_role":string|null,
//! "licence":string|null}`. An Action is `{"action","graph_permissions":[Need…],
//! "exchange_permission":string|null,"entra_roles":[string…],"target_role":{"role","when"}|null,
//! "variant":{"graph_permissions":[Need…],"when"}|null,"licensed_variant":string|null}`.
//! A Need is `{"least_privileged": name, "any_of": [names…]}`: grant the first, any of the
//! others also works.

use std::fmt::Write as _;

use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::findings::ExitStatus;
use crate::fix::actions::{ActionKind, ActionNeeds};
use crate::permission::{
    role, AnyOf, InvestigationNeed, EXCHANGE_READ_ROLE, INVESTIGATION, MANAGE_AS_APP,
};
use crate::snapshot::source::{SourceDef, Stage, SOURCES};

#[derive(Debug, Args)]
pub struct PermissionsArgs {
    /// Also list what each fix action needs (fix plan/apply, respond).
    #[arg(long)]
    pub fix: bool,
    /// Output format. `markdown` is the README's Permissions section.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Markdown,
}

pub fn run(args: PermissionsArgs) -> anyhow::Result<ExitStatus> {
    let table = Table::new(args.fix);
    let text = match args.format {
        Format::Table => table.text(),
        Format::Json => serde_json::to_string_pretty(&table)? + "\n",
        Format::Markdown => table.markdown(),
    };
    use std::io::Write as _;
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(ExitStatus::Compliant)
}

/// What `m365guard permissions` prints, in its JSON shape.
#[derive(Debug, Serialize)]
pub struct Table {
    pub schema_version: u32,
    pub sources: Vec<SourceRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix_actions: Option<Vec<ActionRow>>,
    /// What `investigate` (and `respond --user`) reads, per evidence source.
    pub investigation: Vec<InvestigationRow>,
}

#[derive(Debug, Serialize)]
pub struct InvestigationRow {
    pub source: &'static str,
    pub reads: &'static str,
    pub graph_permissions: Vec<Need>,
    pub exchange_permission: Option<&'static str>,
    pub entra_roles: Vec<&'static str>,
    pub licence: Option<&'static str>,
}

impl InvestigationRow {
    fn new(n: &InvestigationNeed) -> InvestigationRow {
        InvestigationRow {
            source: n.source,
            reads: n.reads,
            graph_permissions: needs(n.graph),
            exchange_permission: n.exchange_roles.map(|_| MANAGE_AS_APP),
            entra_roles: n
                .exchange_roles
                .map(|ids| ids.iter().filter_map(|id| role::name(id)).collect())
                .unwrap_or_default(),
            licence: n.licence,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Need {
    pub least_privileged: &'static str,
    pub any_of: AnyOf,
}

fn needs(graph: &[AnyOf]) -> Vec<Need> {
    graph
        .iter()
        .filter_map(|any| {
            Some(Need {
                least_privileged: any.first()?,
                any_of: any,
            })
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub struct SourceRow {
    pub source: &'static str,
    pub service: Stage,
    pub reads: &'static str,
    pub graph_permissions: Vec<Need>,
    pub exchange_permission: Option<&'static str>,
    pub entra_role: Option<&'static str>,
    pub licence: Option<&'static str>,
}

impl SourceRow {
    fn new(def: &SourceDef) -> SourceRow {
        SourceRow {
            source: def.id.as_str(),
            service: def.stage,
            reads: def.needs.reads,
            graph_permissions: needs(def.needs.graph),
            exchange_permission: def.needs.exchange.then_some(MANAGE_AS_APP),
            entra_role: def.needs.exchange.then_some(EXCHANGE_READ_ROLE),
            licence: def.licence,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct When {
    pub role: &'static str,
    pub when: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Variant {
    pub graph_permissions: Vec<Need>,
    pub when: &'static str,
}

#[derive(Debug, Serialize)]
pub struct ActionRow {
    pub action: &'static str,
    pub graph_permissions: Vec<Need>,
    pub exchange_permission: Option<&'static str>,
    /// Any one of these Entra directory roles (for Exchange cmdlets, or the directory role
    /// a Graph write needs besides its permission, e.g. an app-only password reset).
    pub entra_roles: Vec<&'static str>,
    pub target_role: Option<When>,
    pub variant: Option<Variant>,
    pub licensed_variant: Option<&'static str>,
}

impl ActionRow {
    fn new(kind: ActionKind) -> ActionRow {
        let n: ActionNeeds = kind.needs();
        let names = |ids: &[&'static str]| -> Vec<&'static str> {
            ids.iter().filter_map(|id| role::name(id)).collect()
        };
        ActionRow {
            action: kind.as_str(),
            graph_permissions: needs(n.graph),
            exchange_permission: n.exchange_roles.map(|_| MANAGE_AS_APP),
            entra_roles: n
                .exchange_roles
                .or(n.directory_role.map(|(roles, _)| roles))
                .map(names)
                .unwrap_or_default(),
            target_role: n.target_role.and_then(|(ids, when)| {
                Some(When {
                    role: role::name(ids.first()?)?,
                    when,
                })
            }),
            variant: n.variant.map(|(graph, when)| Variant {
                graph_permissions: needs(graph),
                when,
            }),
            licensed_variant: n.licensed_variant.map(|(_, why)| why),
        }
    }
}

fn least(needs: &[Need]) -> String {
    needs
        .iter()
        .map(|n| n.least_privileged)
        .collect::<Vec<_>>()
        .join(" + ")
}

impl Table {
    pub fn new(fix: bool) -> Table {
        Table {
            schema_version: 1,
            sources: SOURCES.iter().map(SourceRow::new).collect(),
            fix_actions: fix.then(|| ActionKind::ALL.into_iter().map(ActionRow::new).collect()),
            investigation: INVESTIGATION.iter().map(InvestigationRow::new).collect(),
        }
    }

    fn investigation_cells(row: &InvestigationRow) -> [String; 5] {
        let dash = |s: String| if s.is_empty() { "-".to_owned() } else { s };
        [
            row.source.to_owned(),
            dash(least(&row.graph_permissions)),
            dash(row.entra_roles.join(" or ")),
            row.exchange_permission.unwrap_or("-").to_owned(),
            row.licence.unwrap_or("-").to_owned(),
        ]
    }

    fn source_cells(row: &SourceRow) -> [String; 5] {
        let or_dash = |v: Option<&str>| v.unwrap_or("-").to_owned();
        let graph = least(&row.graph_permissions);
        [
            row.source.to_owned(),
            if graph.is_empty() { "-".into() } else { graph },
            or_dash(row.entra_role),
            or_dash(row.exchange_permission),
            or_dash(row.licence),
        ]
    }

    fn action_cells(row: &ActionRow) -> [String; 5] {
        let mut graph = least(&row.graph_permissions);
        if let Some(v) = &row.variant {
            let extra = format!("{} {}", least(&v.graph_permissions), v.when);
            graph = if graph.is_empty() {
                extra
            } else {
                format!("{graph}; {extra}")
            };
        }
        let mut roles = row.entra_roles.join(" or ");
        if let Some(t) = &row.target_role {
            let extra = format!("{} {}", t.role, t.when);
            roles = if roles.is_empty() {
                extra
            } else {
                format!("{roles}; {extra}")
            };
        }
        let dash = |s: String| if s.is_empty() { "-".to_owned() } else { s };
        [
            row.action.to_owned(),
            dash(graph),
            dash(roles),
            row.exchange_permission.unwrap_or("-").to_owned(),
            row.licensed_variant
                .map_or("-", |_| "Entra ID P1 (conditional access variant)")
                .to_owned(),
        ]
    }

    const SOURCE_HEAD: [&'static str; 5] = [
        "SOURCE",
        "GRAPH APPLICATION PERMISSION",
        "ENTRA ROLE",
        "EXCHANGE",
        "LICENCE",
    ];
    const ACTION_HEAD: [&'static str; 5] = [
        "FIX ACTION",
        "GRAPH APPLICATION PERMISSION",
        "ENTRA ROLE",
        "EXCHANGE",
        "LICENCE",
    ];
    const INVESTIGATION_HEAD: [&'static str; 5] = [
        "INVESTIGATE SOURCE",
        "GRAPH APPLICATION PERMISSION",
        "ENTRA ROLE",
        "EXCHANGE",
        "LICENCE",
    ];

    /// Aligned columns for a terminal.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let section = |out: &mut String, head: [&str; 5], rows: Vec<[String; 5]>| {
            let mut width = head.map(str::len);
            for row in &rows {
                for (w, cell) in width.iter_mut().zip(row) {
                    *w = (*w).max(cell.len());
                }
            }
            let line = |cells: [&str; 5]| {
                let mut l = String::new();
                for (i, cell) in cells.iter().enumerate() {
                    let _ = write!(l, "{cell:<w$}  ", w = width[i]);
                }
                l.trim_end().to_owned()
            };
            let _ = writeln!(out, "{}", line(head));
            for row in &rows {
                let _ = writeln!(out, "{}", line(row.each_ref().map(String::as_str)));
            }
        };
        section(
            &mut out,
            Self::SOURCE_HEAD,
            self.sources.iter().map(Self::source_cells).collect(),
        );
        if let Some(actions) = &self.fix_actions {
            let _ = writeln!(out);
            section(
                &mut out,
                Self::ACTION_HEAD,
                actions.iter().map(Self::action_cells).collect(),
            );
        }
        let _ = writeln!(out);
        section(
            &mut out,
            Self::INVESTIGATION_HEAD,
            self.investigation
                .iter()
                .map(Self::investigation_cells)
                .collect(),
        );
        out
    }

    /// README's Permissions section (between its marker comments).
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let table = |out: &mut String, head: [&str; 5], rows: Vec<[String; 5]>| {
            let head = head.map(|h| {
                let mut h = h.to_ascii_lowercase();
                if let Some(first) = h.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                h
            });
            let _ = writeln!(out, "| {} |", head.join(" | "));
            let _ = writeln!(out, "|{}", "---|".repeat(5));
            for row in rows {
                let mut cells = row;
                cells[0] = format!("`{}`", cells[0]);
                let _ = writeln!(out, "| {} |", cells.join(" | "));
            }
        };
        let _ = writeln!(
            out,
            "Generated by `m365guard permissions --fix --format markdown`; do not edit by hand. \
             Grant the least-privileged permission named (a higher one listed by \
             `m365guard permissions --format json` also works), with admin consent. \
             Exchange sources need `{MANAGE_AS_APP}` (an application permission of Office 365 \
             Exchange Online) and an Entra role on the app's service principal. A missing \
             licence makes a source `unavailable`, not a failure.\n"
        );
        table(
            &mut out,
            Self::SOURCE_HEAD,
            self.sources.iter().map(Self::source_cells).collect(),
        );
        if let Some(actions) = &self.fix_actions {
            let _ = writeln!(out);
            table(
                &mut out,
                Self::ACTION_HEAD,
                actions.iter().map(Self::action_cells).collect(),
            );
        }
        let _ = writeln!(
            out,
            "\n`m365guard investigate --user UPN` (and `respond --user`, which runs it before \
             any write) reads these evidence sources; a source whose permission is missing is \
             `error`, one whose licence is missing `unavailable`, and the rules reading it give \
             no verdict.\n"
        );
        table(
            &mut out,
            Self::INVESTIGATION_HEAD,
            self.investigation
                .iter()
                .map(Self::investigation_cells)
                .collect(),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_and_with_fix_every_action_has_a_row() {
        let t = Table::new(false);
        assert_eq!(t.sources.len(), SOURCES.len());
        assert!(t.fix_actions.is_none());
        let t = Table::new(true);
        assert_eq!(
            t.fix_actions.as_ref().map(Vec::len),
            Some(ActionKind::ALL.len())
        );
        let text = t.text();
        for row in &t.sources {
            assert!(
                text.lines().any(|l| l.starts_with(row.source)),
                "{}",
                row.source
            );
        }
        assert!(text.contains("User.Read.All + AuditLog.Read.All"), "{text}");
    }

    #[test]
    fn investigate_is_its_own_group_with_every_evidence_source() {
        let t = Table::new(false);
        let sources: Vec<&str> = t.investigation.iter().map(|r| r.source).collect();
        assert_eq!(
            sources,
            [
                "user",
                "sign_ins",
                "directory_audits",
                "risk_detections",
                "audit_events",
                "messages_sent"
            ]
        );
        let text = t.text();
        let group: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("INVESTIGATE SOURCE"))
            .collect();
        let line = |name: &str| {
            group
                .iter()
                .find(|l| l.split_whitespace().next() == Some(name))
                .copied()
                .unwrap_or_default()
        };
        assert!(line("risk_detections").contains("IdentityRiskEvent.Read.All"));
        assert!(line("risk_detections").contains("Entra ID P2"));
        assert!(line("audit_events").contains("AuditLogsQuery.Read.All"));
        assert!(line("sign_ins").contains("AuditLog.Read.All"));
        assert!(line("messages_sent").contains("Exchange.ManageAsApp"));
        assert!(line("messages_sent").contains("Exchange Administrator"));
        assert!(t
            .markdown()
            .contains("| `risk_detections` | IdentityRiskEvent.Read.All |"));
    }
}
