# Shared helpers and indexes for the built-in rules (package `m365guard.lib`).
#
# Indexes are built once per evaluation and looked up by key, so no rule joins two
# collections (users x assignments is quadratic: hours at 100k users).
#
# Keep this package in ONE file. regorus 0.14.1 mis-evaluates a package split over several
# modules when the whole package is materialised (e.g. `import data.m365guard.lib` then
# `lib.users_by_id`): a rule in one module then reads a rule of a later module as undefined.
# Rules should import the rules they use one by one (`import data.m365guard.lib.users_by_id`),
# which also avoids evaluating every index for every rule; functions can be called through
# `import data.m365guard.lib` (`lib.is_external_forwarding_target(addr)`).
package m365guard.lib

import rego.v1

# --------------------------------------------------------------------------------------
# Mail addresses
#
# Mail address helpers: is a forwarding target inside the tenant, an allowed partner, or
# external? Domains are compared lower-case; a subdomain of a verified (or allowed) domain
# counts as that domain, so `eu.contoso.com` is internal when `contoso.com` is verified.

# Lower-case verified domains of the tenant (organization source).
verified_domains := {lower(d) | some d in input.tenant.verified_domains}

# Partner domains the operator allows mail to be forwarded to (m365guard.toml
# `allowed_forwarding_domains`); the engine always provides the list, tests may override it.
default allowed_forwarding_domains := set()

allowed_forwarding_domains := {lower(trim_space(d)) | some d in data.m365guard.config.allowed_forwarding_domains}

# ".contoso.com" for every verified domain: built once so each address check is a few
# endswith calls rather than a concat per address and domain.
_verified_suffixes := {concat("", [".", d]) | some d in verified_domains}

_allowed_suffixes := {concat("", [".", d]) | some d in allowed_forwarding_domains}

# The domain of an SMTP address: lower-case, the part after the last "@" (an `SMTP:`
# prefix only touches the local part). Undefined without an "@".
address_domain(addr) := parts[n - 1] if {
	parts := split(lower(addr), "@")
	n := count(parts)
	n > 1
}

_under(domain, suffixes) if {
	some s in suffixes
	endswith(domain, s)
}

# Mailbox folder rights that read items (lower-case): the roles that include `ReadItems`,
# and `ReadItems` itself. `None`, `FolderVisible`, `Contributor`, `FolderOwner` and the
# calendar's free/busy roles (`AvailabilityOnly`, `LimitedDetails`) read no item.
# <https://learn.microsoft.com/powershell/module/exchange/add-mailboxfolderpermission>
# (AccessRights: the roles and the rights each combines)
folder_read_rights := {
	"readitems", "reviewer", "noneditingauthor", "author",
	"publishingauthor", "editor", "publishingeditor", "owner",
}

# The rights of a folder permission entry that read items, as Exchange spells them.
folder_reads(p) := [r | some r in p.access_rights; lower(r) in folder_read_rights]

# An address as shown in findings: trimmed, lower-case, without an `smtp:` prefix.
normalise_address(addr) := trim_prefix(lower(trim_space(addr)), "smtp:")

# True when the address is in a verified domain or one of its subdomains.
is_internal_address(addr) if {
	domain := address_domain(addr)
	_in_domains(domain, verified_domains, _verified_suffixes)
}

# True when the address is in an allowed partner domain or one of its subdomains.
is_allowed_partner_address(addr) if {
	domain := address_domain(addr)
	_in_domains(domain, allowed_forwarding_domains, _allowed_suffixes)
}

# True when the domain is an allowed partner domain or one of its subdomains.
is_allowed_partner_domain(domain) if _in_domains(lower(domain), allowed_forwarding_domains, _allowed_suffixes)

# True when the domain is a verified domain or one of its subdomains.
is_verified_domain(domain) if _in_domains(lower(domain), verified_domains, _verified_suffixes)

# Smart hosts outbound connectors may route through (m365guard.toml `allowed_smart_hosts`:
# domains, subdomains included, or IP addresses); the engine always provides the list.
default allowed_smart_hosts := set()

allowed_smart_hosts := {lower(trim_space(h)) | some h in data.m365guard.config.allowed_smart_hosts}

_smart_host_suffixes := {concat("", [".", h]) | some h in allowed_smart_hosts}

# True when an outbound connector's smart host is expected: allow-listed, or in (or under)
# a verified domain of the tenant (its own on-premises servers).
is_expected_smart_host(host) if _in_domains(lower(host), allowed_smart_hosts, _smart_host_suffixes)

is_expected_smart_host(host) if is_verified_domain(host)

_in_domains(domain, domains, _) if domains[domain]

_in_domains(domain, _, suffixes) if _under(domain, suffixes)

# An address that forwarding must not reach: outside the verified domains and not an
# allowed partner. Addresses without a domain are not judged (they are not SMTP addresses).
# One body, cheapest test first: rules call it for every forwarding recipient.
is_external_forwarding_target(addr) if {
	parts := split(lower(addr), "@")
	n := count(parts)
	n > 1
	domain := parts[n - 1]
	not verified_domains[domain]
	not _under(domain, _verified_suffixes)
	not allowed_forwarding_domains[domain]
	not _under(domain, _allowed_suffixes)
}

# --------------------------------------------------------------------------------------
# Inbox rules
#
# Positions of inbox rules (in input.inbox_rules) by the action values rules filter on,
# built in ONE native pass (`m365guard.index_by`, see policies/README.md): at 300k inbox
# rules every interpreted pass costs ~0.3 s, and the forwarding and hiding checks would
# need seven. `inbox_rules_by_delete[true]` lists the i with
# `input.inbox_rules[i].actions.delete == true`; rules without the key are in no group.

_inbox_rule_index := m365guard.index_by(input.inbox_rules, [
	["actions", "move_to_folder", "well_known_name"],
	["actions", "move_to_folder", "name"],
	["actions", "delete"],
	["actions", "permanent_delete"],
	["actions", "forward_to"],
	["actions", "redirect_to"],
	["actions", "forward_as_attachment_to"],
])

inbox_rules_by_folder_well_known_name := _inbox_rule_index[0]

inbox_rules_by_folder_name := _inbox_rule_index[1]

inbox_rules_by_delete := _inbox_rule_index[2]

inbox_rules_by_permanent_delete := _inbox_rule_index[3]

inbox_rules_by_forward_to := _inbox_rule_index[4]

inbox_rules_by_redirect_to := _inbox_rule_index[5]

inbox_rules_by_forward_as_attachment_to := _inbox_rule_index[6]

# --------------------------------------------------------------------------------------
# Users
#
# User indexes. Rules look users up by id here instead of scanning `input.users`, so a
# check over role assignments or risky users stays linear at 100k users.

# Built natively (`m365guard.object_by`, the same object as `{u.id: u | some u in
# input.users}`) and shared by every rule and evaluation thread of a scan: five rules read it.
default users_by_id := {}

users_by_id := m365guard.object_by(input.users, ["id"])

# The MFA registration record, or null when the user is not in the registration report.
mfa_of(user) := object.get(user, "mfa", null)

# The tenant's name for tenant-level findings.
tenant_name := object.get(input.tenant, "display_name", input.tenant.id)

# Registered MFA method names ([] when the user is not in the registration report).
mfa_methods(user) := object.get(user.mfa, "methods", []) if is_object(object.get(user, "mfa", null))

mfa_methods(user) := [] if not is_object(object.get(user, "mfa", null))

# Whether the user appears in the MFA registration report.
in_mfa_report(user) := is_object(object.get(user, "mfa", null))

# --------------------------------------------------------------------------------------
# Directory roles
#
# Directory role indexes: definitions by id, the privileged and Global Administrator role
# ids, and who holds them. A role-assignable group's members hold its roles, so every
# "holder" set expands `group_member_ids`. Everything here is built in one pass over the
# assignments; rules look principals up by key (never users x assignments).

# Template id of Global Administrator (the same in every tenant).
global_admin_template_id := "62e90394-69f5-4237-9190-012177145e10"

role_definitions_by_id := {d.id: d | some d in input.roles.definitions}

privileged_role_ids := {d.id | some d in input.roles.definitions; d.is_privileged == true}

global_admin_role_ids := {d.id | some d in input.roles.definitions; _is_global_admin(d)}

_is_global_admin(d) if d.id == global_admin_template_id

_is_global_admin(d) if object.get(d, "template_id", "") == global_admin_template_id

# Display name of a role definition id (the id itself when the definition is missing).
role_name(role_id) := role_definitions_by_id[role_id].display_name

role_name(role_id) := role_id if not role_definitions_by_id[role_id]

# Ids a role definition can be referred to by (CA `exclude_roles` use template ids).
_role_refs(role_id) := {role_id, object.get(role_definitions_by_id, [role_id, "template_id"], role_id)}

# User ids holding the role of an assignment: the user itself, or a group's members.
# Service principals hold no user.
assignment_user_ids(a) := {a.principal_id} if a.principal_type == "user"

assignment_user_ids(a) := {m | some m in object.get(a, "group_member_ids", [])} if a.principal_type == "group"

# Principals (users and service principals) holding the role of an assignment; a group
# stands for its members.
assignment_principal_ids(a) := {a.principal_id} if a.principal_type != "group"

assignment_principal_ids(a) := {m | some m in object.get(a, "group_member_ids", [])} if a.principal_type == "group"

# uid -> names of the privileged roles the user holds through an ACTIVE assignment.
privileged_roles_by_user[uid] contains role_name(a.role_definition_id) if {
	some a in input.roles.assignments
	a.role_definition_id in privileged_role_ids
	some uid in assignment_user_ids(a)
}

# uid -> names of the privileged roles the user is ELIGIBLE for (PIM; empty without P2).
eligible_privileged_roles_by_user[uid] contains role_name(a.role_definition_id) if {
	some a in object.get(input.roles, "eligible_assignments", [])
	a.role_definition_id in privileged_role_ids
	some uid in assignment_user_ids(a)
}

# uid -> ids (and template ids) of every role the user holds through an ACTIVE assignment.
active_role_refs_by_user[uid] contains ref if {
	some a in input.roles.assignments
	some uid in assignment_user_ids(a)
	some ref in _role_refs(a.role_definition_id)
}

# group id -> member user ids, as far as role assignments reveal them (the snapshot has
# no general group membership).
known_group_members[gid] contains m if {
	some a in array.concat(input.roles.assignments, object.get(input.roles, "eligible_assignments", []))
	a.principal_type == "group"
	gid := a.principal_id
	some m in object.get(a, "group_member_ids", [])
}

# Distinct principals with an ACTIVE Global Administrator assignment (groups expanded).
global_admin_principal_ids contains pid if {
	some a in input.roles.assignments
	a.role_definition_id in global_admin_role_ids
	some pid in assignment_principal_ids(a)
}

# Distinct users with an ACTIVE Global Administrator assignment (groups expanded).
global_admin_user_ids contains uid if {
	some a in input.roles.assignments
	a.role_definition_id in global_admin_role_ids
	some uid in assignment_user_ids(a)
}

# Human name of a principal id seen in role assignments: UPN, else the assignment's
# principal_name, else the id.
principal_display(pid) := users_by_id[pid].user_principal_name

principal_display(pid) := sort(_principal_names[pid])[0] if not users_by_id[pid]

principal_display(pid) := pid if {
	not users_by_id[pid]
	not _principal_names[pid]
}

_principal_names[a.principal_id] contains name if {
	some a in input.roles.assignments
	name := object.get(a, "principal_name", null)
	name != null
}

# --------------------------------------------------------------------------------------
# Conditional access
#
# Conditional access helpers: which enabled policies enforce MFA (and for whom, and
# whether everywhere) or block legacy authentication for all users. Each policy's scope is
# resolved to user-id sets once, so a per-user check is a few set lookups.
#
# Graph's semantics, as documented:
# - conditionalAccessConditionSet: every condition present must match for the policy to
#   apply, so any location, platform, risk, device-filter or client-app condition makes
#   the policy apply to FEWER sign-ins
#   (https://learn.microsoft.com/graph/api/resources/conditionalaccessconditionset).
# - conditionalAccessLocations: `All`, `AllTrusted` or named location ids
#   (https://learn.microsoft.com/graph/api/resources/conditionalaccesslocations).
# - conditionalAccessGrantControls: operator `OR` = any one listed control satisfies it,
#   `AND` = all (https://learn.microsoft.com/graph/api/resources/conditionalaccessgrantcontrols).
# - excluded groups apply to their transitive members (nested, dynamic, security groups):
#   the `ca_group_members` source lists them per group.

security_defaults_enabled if input.security_defaults.is_enabled == true

# Targets every user and every application.
ca_targets_all_users(p) if {
	"All" in object.get(p, "include_users", [])
	"All" in object.get(p, "include_applications", [])
}

# Covers modern clients: no client-app condition, `all`, or both modern client types.
ca_covers_modern_clients(p) if count(object.get(p, "client_app_types", [])) == 0

ca_covers_modern_clients(p) if "all" in p.client_app_types

ca_covers_modern_clients(p) if {
	"browser" in p.client_app_types
	"mobileAppsAndDesktopClients" in p.client_app_types
}

ca_requires_mfa(p) if "mfa" in object.get(p, "built_in_controls", [])

ca_requires_mfa(p) if object.get(p, "authentication_strength", null) != null

# Named locations by id, and the trusted ones' names (for `AllTrusted`).
_named_locations_by_id := {l.id: l | some l in object.get(input.conditional_access, "named_locations", [])}

_trusted_location_names := sort([l.display_name |
	some l in object.get(input.conditional_access, "named_locations", [])
	object.get(l, "is_trusted", false) == true
])

_location_name(id) := "any location" if id == "All"

_location_name(id) := "trusted locations" if {
	id == "AllTrusted"
	count(_trusted_location_names) == 0
}

_location_name(id) := sprintf("trusted location %s", [concat(", ", _trusted_location_names)]) if {
	id == "AllTrusted"
	count(_trusted_location_names) > 0
}

_location_name(id) := sprintf("trusted location %s", [_named_locations_by_id[id].display_name]) if {
	object.get(_named_locations_by_id, [id, "is_trusted"], false) == true
}

_location_name(id) := sprintf("location %s", [_named_locations_by_id[id].display_name]) if {
	_named_locations_by_id[id]
	object.get(_named_locations_by_id, [id, "is_trusted"], false) != true
}

_location_name(id) := sprintf("unknown location %s", [id]) if {
	not id in {"All", "AllTrusted"}
	not _named_locations_by_id[id]
}

_list(p, key) := object.get(p, key, [])

# Why a policy does not apply to every sign-in of the users it covers: each entry names
# one narrowing condition ("not required from trusted location Office-HQ").
# (A partial rule without any entry is undefined, not empty, in regorus: look the policy
# up and fall back to the empty set.)
ca_gaps(p) := _policy_gaps[p.id]

ca_gaps(p) := set() if not _policy_gaps[p.id]

_policy_gaps[p.id] contains sprintf("only required for the applications %s", [concat(", ", _list(p, "include_applications"))]) if {
	some p in input.conditional_access.policies
	not "All" in _list(p, "include_applications")
}

_policy_gaps[p.id] contains sprintf("not required for the excluded applications %s", [concat(", ", _list(p, "exclude_applications"))]) if {
	some p in input.conditional_access.policies
	count(_list(p, "exclude_applications")) > 0
}

_policy_gaps[p.id] contains sprintf("only required for the client app types %s", [concat(", ", _list(p, "client_app_types"))]) if {
	some p in input.conditional_access.policies
	not ca_covers_modern_clients(p)
}

_policy_gaps[p.id] contains sprintf("only required from %s", [concat(", ", sort([_location_name(l) | some l in _list(p, "include_locations")]))]) if {
	some p in input.conditional_access.policies
	count(_list(p, "include_locations")) > 0
	not "All" in _list(p, "include_locations")
}

_policy_gaps[p.id] contains sprintf("not required from %s", [_location_name(l)]) if {
	some p in input.conditional_access.policies
	some l in _list(p, "exclude_locations")
}

_policy_gaps[p.id] contains sprintf("only required on the platforms %s", [concat(", ", _list(p, "include_platforms"))]) if {
	some p in input.conditional_access.policies
	count(_list(p, "include_platforms")) > 0
	not "all" in _list(p, "include_platforms")
}

_policy_gaps[p.id] contains sprintf("not required on the platforms %s", [concat(", ", _list(p, "exclude_platforms"))]) if {
	some p in input.conditional_access.policies
	count(_list(p, "exclude_platforms")) > 0
}

_policy_gaps[p.id] contains sprintf("only required at user risk %s", [concat(", ", _list(p, "user_risk_levels"))]) if {
	some p in input.conditional_access.policies
	count(_list(p, "user_risk_levels")) > 0
}

_policy_gaps[p.id] contains sprintf("only required at sign-in risk %s", [concat(", ", _list(p, "sign_in_risk_levels"))]) if {
	some p in input.conditional_access.policies
	count(_list(p, "sign_in_risk_levels")) > 0
}

_policy_gaps[p.id] contains sprintf("not required on devices matching %s", [object.get(p, "device_filter_rule", "a device filter")]) if {
	some p in input.conditional_access.policies
	object.get(p, "device_filter_mode", null) == "exclude"
}

_policy_gaps[p.id] contains sprintf("only required on devices matching %s", [object.get(p, "device_filter_rule", "a device filter")]) if {
	some p in input.conditional_access.policies
	object.get(p, "device_filter_mode", null) == "include"
}

# Grant controls that satisfy an `OR` policy instead of MFA (a compliant or hybrid-joined
# device, an approved app, ...): the policy then lets a sign-in through without MFA.
ca_mfa_alternatives(p) := {c |
	object.get(p, "grant_operator", "OR") != "AND"
	some c in _list(p, "built_in_controls")
	not c in {"mfa", "block"}
}

_controls_text := {
	"compliantDevice": "a compliant device",
	"domainJoinedDevice": "a hybrid-joined device",
	"approvedApplication": "an approved client app",
	"compliantApplication": "an app protection policy",
	"passwordChange": "a password change",
}

ca_alternatives_text(alts) := sprintf("MFA can be skipped with %s (grant operator OR)", [concat(" or ", sort([object.get(_controls_text, c, c) | some c in alts]))])

# group id -> member user ids: the transitive members the `ca_group_members` source read,
# plus what role assignments reveal (role-assignable groups), so older snapshots without
# the source still resolve what they can.
_ca_groups_by_id := {g.id: g | some g in object.get(input.conditional_access, "groups", [])}

group_user_ids(gid) := {m | some m in object.get(_ca_groups_by_id, [gid, "member_ids"], [])} | _role_group_members(gid)

_role_group_members(gid) := known_group_members[gid]

_role_group_members(gid) := set() if not known_group_members[gid]

# Display name of a group a policy names (the id when unknown).
group_name(gid) := name if {
	name := object.get(_ca_groups_by_id, [gid, "display_name"], null)
	name != null
}

group_name(gid) := principal_display(gid) if object.get(_ca_groups_by_id, [gid, "display_name"], null) == null

# The guest/external-user kind of a user, as `guestOrExternalUserTypes` names it: a B2B
# account (UPN with #EXT#) is a collaboration guest or member, a guest without it a
# local (internal) guest.
_external_type(u) := "b2bCollaborationGuest" if {
	u.user_type == "guest"
	contains(lower(u.user_principal_name), "#ext#")
}

_external_type(u) := "internalGuest" if {
	u.user_type == "guest"
	not contains(lower(u.user_principal_name), "#ext#")
}

_external_type(u) := "b2bCollaborationMember" if {
	u.user_type == "member"
	contains(lower(u.user_principal_name), "#ext#")
}

# Users matched by a guest/external-user condition (`GuestsOrExternalUsers` in the user
# list means every kind). Only evaluated for policies that have one.
_guest_users(types) := {u.id |
	count(types) > 0
	some u in input.users
	_external_type(u) in types
}

_all_external_types := {"internalGuest", "b2bCollaborationGuest", "b2bCollaborationMember", "b2bDirectConnectUser", "otherExternalUser", "serviceProvider"}

_include_types(p) := _all_external_types if "GuestsOrExternalUsers" in _list(p, "include_users")

_include_types(p) := {t | some t in _list(p, "include_guest_or_external_user_types")} if not "GuestsOrExternalUsers" in _list(p, "include_users")

_exclude_types(p) := _all_external_types if "GuestsOrExternalUsers" in _list(p, "exclude_users")

_exclude_types(p) := {t | some t in _list(p, "exclude_guest_or_external_user_types")} if not "GuestsOrExternalUsers" in _list(p, "exclude_users")

# Who a policy covers: all users (minus exclusions) or the users it names.
ca_scope(p) := {
	"name": p.display_name,
	"all_users": "All" in _list(p, "include_users"),
	"included": ca_included_user_ids(p),
	"excluded": ca_excluded_user_ids(p),
}

# Enabled (enforced, not report-only) policies requiring MFA that apply to every sign-in:
# all applications, no excluded application, modern clients, no location, platform, risk
# or device condition, and no `OR` alternative to MFA. Most target all users; some
# (emergency-access accounts, excluded from the tenant-wide policy) list users or roles.
mfa_policies := {p.id: ca_scope(p) |
	some p in input.conditional_access.policies
	p.state == "enabled"
	ca_requires_mfa(p)
	count(ca_gaps(p)) == 0
	count(ca_mfa_alternatives(p)) == 0
}

# Enabled policies requiring MFA that do NOT apply everywhere: their scope, the named gaps,
# and whether the only weakness is an `OR` alternative (reported at lower severity).
mfa_partial_policies := {p.id: object.union(ca_scope(p), {"issues": issues, "only_alternatives": count(gaps) == 0}) |
	some p in input.conditional_access.policies
	p.state == "enabled"
	ca_requires_mfa(p)
	gaps := ca_gaps(p)
	alts := ca_mfa_alternatives(p)
	count(gaps) + count(alts) > 0
	issues := array.concat(sort(gaps), _alt_issue(alts))
}

_alt_issue(alts) := [] if count(alts) == 0

_alt_issue(alts) := [ca_alternatives_text(alts)] if count(alts) > 0

# Policies that require MFA of all users but are report-only or disabled: named in
# findings, since such a policy looks like protection but enforces nothing.
mfa_for_all_policies_not_enforced contains p.display_name if {
	some p in input.conditional_access.policies
	p.state != "enabled"
	ca_targets_all_users(p)
	ca_requires_mfa(p)
}

# User ids a policy names explicitly: `include_users`, holders of an included role,
# transitive members of an included group and users of an included guest/external type.
ca_included_user_ids(p) := _principals_of(
	_list(p, "include_users"),
	_list(p, "include_roles"),
	_list(p, "include_groups"),
) | _guest_users(_include_types(p))

# User ids a policy leaves out: `exclude_users`, holders of an excluded role (active
# assignments, matched by role id or template id), transitive members of an excluded
# group, and users of an excluded guest/external type. Built once per policy, so the
# per-user check is a set lookup.
ca_excluded_user_ids(p) := _principals_of(
	_list(p, "exclude_users"),
	_list(p, "exclude_roles"),
	_list(p, "exclude_groups"),
) | _guest_users(_exclude_types(p))

_principals_of(user_ids, role_ids, group_ids) := (users | role_holders) | group_members if {
	users := {u | some u in user_ids; u != "All"; u != "None"; u != "GuestsOrExternalUsers"}
	roles := {r | some r in role_ids}
	role_holders := {uid |
		count(roles) > 0
		some uid, refs in active_role_refs_by_user
		some r in roles
		r in refs
	}
	group_members := {m |
		some g in group_ids
		some m in group_user_ids(g)
	}
}

# How a policy leaves a user out, for messages: "directly", "through group X", "through
# role Y", "as a guest or external user". Only called for users already found excluded.
ca_exclusion_reasons(p, uid) := sort(array.concat(
	array.concat(
		["directly" | uid in _list(p, "exclude_users")],
		[sprintf("through group %s", [group_name(g)]) | some g in _list(p, "exclude_groups"); uid in group_user_ids(g)],
	),
	array.concat(
		[sprintf("through role %s", [role_name(r)]) | some r in _list(p, "exclude_roles"); r in object.get(active_role_refs_by_user, uid, set())],
		["as a guest or external user" | _external_type(users_by_id[uid]) in _exclude_types(p)],
	),
))

# A legacy-authentication block: `block`, for Exchange ActiveSync and other clients.
_legacy_block_shape(p) if {
	"block" in _list(p, "built_in_controls")
	"All" in _list(p, "include_users")
	"exchangeActiveSync" in _list(p, "client_app_types")
	"other" in p.client_app_types
}

# Conditions that keep a block policy from applying to every legacy sign-in (the
# client-app condition is the point of the policy, so it is not a gap here).
ca_block_gaps(p) := {g | some g in ca_gaps(p); not startswith(g, "only required for the client app types")}

# (Gap texts say "required"; for a block policy they are reported with "applied".)

# Enabled policies blocking legacy authentication for all users, everywhere.
legacy_auth_block_policy_ids contains p.id if {
	some p in input.conditional_access.policies
	p.state == "enabled"
	_legacy_block_shape(p)
	count(ca_block_gaps(p)) == 0
}

# Enabled block policies narrowed by a condition: name -> the gaps.
legacy_auth_block_policies_narrowed[p.display_name] := sort([replace(g, " required ", " applied ") | some g in gaps]) if {
	some p in input.conditional_access.policies
	p.state == "enabled"
	_legacy_block_shape(p)
	gaps := ca_block_gaps(p)
	count(gaps) > 0
}

# The same shape, report-only or disabled.
legacy_auth_block_policies_not_enforced contains p.display_name if {
	some p in input.conditional_access.policies
	p.state != "enabled"
	_legacy_block_shape(p)
}

# --------------------------------------------------------------------------------------
# Recipients (mail contacts, mail users, groups)
#
# Forwarding can name a recipient object instead of an address; the collector resolves
# it to where the mail goes (a contact's external address). These helpers name the
# object in findings: "through mail contact "AP Archive"".

# Lower-case delivery address -> descriptions of the recipient objects delivering there.
recipients_by_address[addr] contains sprintf("%s \"%s\"", [_recipient_kind(r), r.name]) if {
	some r in object.get(input, "recipients", [])
	addr := lower(_delivers_to(r))
}

_delivers_to(r) := r.external_email_address if is_string(object.get(r, "external_email_address", null))

_delivers_to(r) := r.primary_smtp_address if {
	not is_string(object.get(r, "external_email_address", null))
	is_string(object.get(r, "primary_smtp_address", null))
}

_recipient_kinds := {
	"MailContact": "mail contact",
	"MailUser": "mail user",
	"GuestMailUser": "guest mail user",
}

_recipient_kind(r) := _recipient_kinds[r.recipient_type_details]

_recipient_kind(r) := "group" if not _recipient_kinds[r.recipient_type_details]

# The recipient objects (sorted descriptions) through which mail to these addresses goes.
recipients_via(addresses) := sort({d | some a in addresses; some d in recipients_by_address[lower(a)]})

# --------------------------------------------------------------------------------------
# Transport (mail flow) rules
#
# A rule acts on mail when it is enabled and enforced (`Mode` Audit / AuditAndNotify only
# log). An unknown state or mode counts as acting: a rule is never assumed harmless.

transport_rule_acts(rule) if {
	lower(object.get(rule, "state", "enabled")) != "disabled"
	lower(object.get(rule, "mode", "enforce")) == "enforce"
}

transport_rule_acts(rule) if {
	lower(object.get(rule, "state", "enabled")) != "disabled"
	object.get(rule, "mode", null) == null
}

# The rule's conditions in words, for messages ("for every message" without any).
transport_rule_scope(rule) := "for every message" if count(_transport_conditions(rule)) == 0

transport_rule_scope(rule) := concat(" and ", _transport_conditions(rule)) if count(_transport_conditions(rule)) > 0

_transport_conditions(rule) := [c |
	some c in [
		_words_condition("whose subject contains", object.get(rule, "subject_contains_words", [])),
		_words_condition("whose subject or body contains", object.get(rule, "subject_or_body_contains_words", [])),
		_list_condition("from sender domains", object.get(rule, "sender_domain_is", [])),
		_list_condition("from", object.get(rule, "from", [])),
		_list_condition("from IP ranges", object.get(rule, "sender_ip_ranges", [])),
		_scope_condition("from senders", object.get(rule, "from_scope", null)),
		_scope_condition("to recipients", object.get(rule, "sent_to_scope", null)),
	]
	c != ""
]

_words_condition(_, words) := "" if count(words) == 0

_words_condition(what, words) := sprintf("for mail %s %s", [what, concat(" or ", [sprintf("\"%s\"", [w]) | some w in words])]) if count(words) > 0

_list_condition(_, items) := "" if count(items) == 0

_list_condition(what, items) := sprintf("%s %s", [what, concat(", ", items)]) if count(items) > 0

_scope_condition(_, scope) := "" if scope == null

_scope_condition(what, "InOrganization") := sprintf("%s inside the organisation", [what])

_scope_condition(what, "NotInOrganization") := sprintf("%s outside the organisation", [what])

_scope_condition(what, scope) := sprintf("%s (%s)", [what, scope]) if {
	scope != null
	not scope in {"InOrganization", "NotInOrganization"}
}

# Apps
#
# Service principals by object id (apps.service_principals), and who published an app:
# Microsoft (first party), this tenant, or another organisation. Microsoft's first-party
# apps belong to its own tenants (appOwnerOrganizationId), listed in "Verify first-party
# Microsoft applications in sign-in reports":
# https://learn.microsoft.com/troubleshoot/entra/entra-id/governance/verify-first-party-apps-sign-in

service_principals_by_id := {sp.id: sp | some sp in input.apps.service_principals}

microsoft_tenant_ids := {"f8cdef31-a31e-4b4a-93e4-5f571e91255a", "72f988bf-86f1-41af-91ab-2d7cd011db47"}

_owner_tenant(sp) := lower(t) if {
	t := object.get(sp, "app_owner_organization_id", null)
	is_string(t)
}

# True for an app Microsoft publishes.
is_first_party_app(sp) if microsoft_tenant_ids[_owner_tenant(sp)]

# True for an app registered in this tenant.
is_own_app(sp) if _owner_tenant(sp) == lower(input.tenant.id)

# True for an app registered in another organisation's tenant (a multi-tenant app).
is_foreign_app(sp) if {
	owner := _owner_tenant(sp)
	not microsoft_tenant_ids[owner]
	owner != lower(input.tenant.id)
}

# True when the publisher is neither Microsoft, this tenant, nor a verified publisher.
is_unverified_publisher(sp) if {
	is_foreign_app(sp)
	object.get(sp, "verified_publisher", null) == null
}

# The review window: the `review_window_days` (m365guard.toml `[review] window_days`,
# default 30) before the snapshot was collected. `m365guard.days_before` (a native builtin,
# see policies/README.md) gives its start as an RFC 3339 UTC string; times in the snapshot
# are written in that form, so they compare as strings. No upper bound: a time after
# collection (clock skew, or a forged date) is still treated as recent.
default review_window_days := 30

review_window_days := data.m365guard.config.review_window_days

review_window_start := m365guard.days_before(input.collection.collected_at, review_window_days)

within_review_window(ts) if {
	is_string(ts)
	ts >= review_window_start
}

# Issuer URIs of identity providers the operator trusts for federated domains
# (m365guard.toml `[identity] federation_issuers`), compared without a trailing slash.
default federation_issuers := set()

federation_issuers := {normalise_issuer(i) | some i in data.m365guard.config.federation_issuers}

normalise_issuer(uri) := trim_right(lower(trim_space(uri)), "/")

# Users holding a privileged role, active or eligible (groups expanded): whose
# authentication methods are always collected.
privileged_user_ids contains uid if {
	some a in array.concat(input.roles.assignments, object.get(input.roles, "eligible_assignments", []))
	a.role_definition_id in privileged_role_ids
	some uid in assignment_user_ids(a)
}

# Method types that satisfy MFA (a second factor). Password and email (self-service
# password reset only) do not; a Temporary Access Pass is temporary by design.
strong_method_types := {
	"phone", "microsoft_authenticator", "fido2", "software_oath",
	"windows_hello_for_business", "platform_credential",
}

# A phone number as reports show it: its first three characters (the country code, mostly)
# and last two digits (`+31••••••78`); the full number stays in the snapshot, where the
# duplicate-number check needs it.
mask_phone(number) := concat("", [substring(key, 0, 3), "••••••", substring(key, count(key) - 2, 2)]) if {
	key := phone_key(number)
	count(key) > 6
}

mask_phone(number) := "••••••" if count(phone_key(number)) <= 6

# Digits only: `+31 612-345678` and `+31612345678` are one number.
phone_key(number) := regex.replace(number, "[^0-9+]", "")
