% ISO 55001 asset-risk rules: risk = criticality x likelihood, the likelihood from the anomaly model.
%
% Facts read:
%   operational_criticality(Asset, Level)   integer 1..5 (declared in compliance/iso55001_checks.pl too)
%   has_redundancy(Asset)
%   monitored(Asset)                        the asset has condition-monitoring sensors
%   anomaly_score(Asset, Score)             the model's score, a number 0..1
%   failure_mode(Asset, Mode)               the model's class: normal, bearing_wear, leak, stuck_sensor
% Hooks called (defined by the host): log_compliance_violation/2, enforce_safety_shutdown/1.

:- dynamic(operational_criticality/2).
:- dynamic(has_redundancy/1).
:- dynamic(monitored/1).
:- dynamic(anomaly_score/2).
:- dynamic(failure_mode/2).

% Likelihood of failure, 1..4, from the anomaly score.
failure_likelihood(Asset, Likelihood) :-
    anomaly_score(Asset, Score),
    (   Score >= 0.9 -> Likelihood = 4
    ;   Score >= 0.7 -> Likelihood = 3
    ;   Score >= 0.4 -> Likelihood = 2
    ;   Likelihood = 1
    ).

asset_risk(Asset, Risk) :-
    operational_criticality(Asset, Criticality),
    failure_likelihood(Asset, Likelihood),
    Risk is Criticality * Likelihood.

% Risk at or above tolerance (12) needs a treatment action (ISO 55001 6.1, actions to address risks).
asset_risk_treatment(Asset) :-
    asset_risk(Asset, Risk),
    Risk >= 12,
    log_compliance_violation(Asset, 'ISO55001-6.1').

% A critical asset must be condition-monitored (ISO 55001 9.1, monitoring and measurement).
condition_monitoring_gap(Asset) :-
    operational_criticality(Asset, Level),
    Level >= 3,
    \+ monitored(Asset),
    log_compliance_violation(Asset, 'ISO55001-9.1').

% A stuck sensor on a monitored asset blinds the monitoring: nonconformity (ISO 55001 10.2).
sensor_integrity(Asset) :-
    failure_mode(Asset, stuck_sensor),
    anomaly_score(Asset, Score),
    Score >= 0.5,
    log_compliance_violation(Asset, 'ISO55001-10.2').

% Fusion: a leak the model is sure of on a critical asset without redundancy is a hazard: shut the asset down.
leak_containment(Asset) :-
    failure_mode(Asset, leak),
    anomaly_score(Asset, Score),
    Score >= 0.9,
    operational_criticality(Asset, Level),
    Level >= 4,
    \+ has_redundancy(Asset),
    log_compliance_violation(Asset, 'SIF-03-LEAK'),
    enforce_safety_shutdown(Asset).

% Detection without action: a leak the model detects on a critical asset that leak_containment/1 never shuts down,
% because a redundant unit carries the duty (maintenance is scheduled instead). The firing is the decision's recorded
% reason for no action.
no_action_reason(Asset, redundancy) :-
    failure_mode(Asset, leak),
    operational_criticality(Asset, Level),
    Level >= 4,
    has_redundancy(Asset).
