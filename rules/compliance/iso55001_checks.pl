% ISO 55001 compliance checks: the seed's section 5.1, as written there.
%
% Facts read (asserted by the host from the live plant and the configuration):
%   operational_criticality(Asset, Level)   Level: integer 1..5
%   has_redundancy(Asset)
%   operating_zone(Agent, Zone)
%   zone_safety_level(Zone, Level)          Level: integer 1..4 (IEC 62443 SL of the zone)
%   required_safety_level(Agent, Level)     Level: integer 1..4
% Hooks called (defined by the host, not here):
%   log_compliance_violation(Asset, Code)   an audit record and a metric
%   enforce_safety_shutdown(Agent)          a shutdown command through the industrial interface

:- dynamic(operational_criticality/2).
:- dynamic(has_redundancy/1).
:- dynamic(operating_zone/2).
:- dynamic(zone_safety_level/2).
:- dynamic(required_safety_level/2).

% A critical asset (criticality 3 or more) without redundancy violates ISO55001-8.2.3.
asset_risk_policy(Asset) :-
    operational_criticality(Asset, Level),
    Level >= 3,
    \+ has_redundancy(Asset),
    log_compliance_violation(Asset, 'ISO55001-8.2.3').

% An agent operating in a zone whose safety level is below the level it requires is shut down.
safety_integrity_check(Agent) :-
    operating_zone(Agent, Zone),
    zone_safety_level(Zone, Level),
    required_safety_level(Agent, Required),
    Level < Required,
    enforce_safety_shutdown(Agent).
