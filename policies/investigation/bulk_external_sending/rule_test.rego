package m365guard.investigation.bulk_external_sending

import rego.v1

_row(n, epoch, external) := {
	"id": sprintf("m/%03d", [n]), "time": sprintf("t%v", [epoch]), "epoch": epoch,
	"recipient": sprintf("r%v@x.example", [n]), "recipient_domain": "x.example", "external": external,
}

_burst(n, epoch, external) := [_row(i, epoch, external) | some i in numbers.range(1, n)]

test_few_external_recipients_compliant if {
	count(deny) == 0 with input as {"messages_sent": {"rows": _burst(5, 0, true)}, "parameters": {"bulk_external_recipients": 50}}
}

test_many_internal_recipients_compliant if {
	count(deny) == 0 with input as {"messages_sent": {"rows": _burst(80, 0, false)}, "parameters": {"bulk_external_recipients": 50}}
}

test_spread_over_two_hours_compliant if {
	rows := array.concat(_burst(30, 0, true), [_row(i + 100, 7200, true) | some i in numbers.range(1, 30)])
	count(deny) == 0 with input as {"messages_sent": {"rows": rows}, "parameters": {"bulk_external_recipients": 50}}
}

test_sixty_in_an_hour_violation if {
	rows := array.concat(_burst(30, 0, true), [_row(i + 100, 600, true) | some i in numbers.range(1, 30)])
	findings := deny with input as {"messages_sent": {"rows": rows}, "parameters": {"bulk_external_recipients": 50}}
	count(findings) == 1
	some f in findings
	f.event_id == "m/001"
	f.details.recipients == 60
}

test_threshold_from_config_violation if {
	count(deny) == 1 with input as {"messages_sent": {"rows": _burst(5, 0, true)}, "parameters": {"bulk_external_recipients": 4}}
}
