% Plant interlocks and safety shutdowns.
%
% Facts read (asserted by the host from the live plant state, updated incrementally):
%   tank_level(Tank, Level)               integer, in the unit of tank_low_limit (the runtime uses cm)
%   tank_low_limit(Tank, Level)           below this level a pump must not draw from the tank
%   pump_suction(Pump, Tank)              the pump draws from the tank
%   pump_discharge(Pump, Valve)           the valve is on the pump's discharge line
%   pump_running(Pump)
%   discharge_pressure(Pump, KPa)         integer
%   pressure_limit(Pump, KPa)             integer
%   command_requested(Asset, Action)      a pending operator or agent command: start, stop, open, close
% Hooks called (defined by the host): log_compliance_violation/2, enforce_safety_shutdown/1.

:- dynamic(tank_level/2).
:- dynamic(tank_low_limit/2).
:- dynamic(pump_suction/2).
:- dynamic(pump_discharge/2).
:- dynamic(pump_running/1).
:- dynamic(discharge_pressure/2).
:- dynamic(pressure_limit/2).
:- dynamic(command_requested/2).

tank_low(Tank) :-
    tank_level(Tank, Level),
    tank_low_limit(Tank, Limit),
    Level < Limit.

% Interlock IL-01: no pump start while its suction tank is low.
interlock(Pump, 'IL-01-PUMP-START-LOW-TANK') :-
    command_requested(Pump, start),
    pump_suction(Pump, Tank),
    tank_low(Tank).
% Interlock IL-02: no valve close against a running pump (dead-heading).
interlock(Valve, 'IL-02-VALVE-CLOSE-RUNNING-PUMP') :-
    command_requested(Valve, close),
    pump_discharge(Pump, Valve),
    pump_running(Pump).

% A command an interlock blocks is refused and logged.
safety_interlock(Asset) :-
    interlock(Asset, Code),
    log_compliance_violation(Asset, Code).

% A running pump whose suction tank is low runs dry: stop it.
dry_run_protection(Pump) :-
    pump_running(Pump),
    pump_suction(Pump, Tank),
    tank_low(Tank),
    log_compliance_violation(Pump, 'SIF-01-DRY-RUN'),
    enforce_safety_shutdown(Pump).

% A running pump above its discharge pressure limit: stop it.
overpressure_protection(Pump) :-
    pump_running(Pump),
    discharge_pressure(Pump, Pressure),
    pressure_limit(Pump, Limit),
    Pressure > Limit,
    log_compliance_violation(Pump, 'SIF-02-OVERPRESSURE'),
    enforce_safety_shutdown(Pump).
