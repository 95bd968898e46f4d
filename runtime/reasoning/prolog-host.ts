/**
 * The Prolog the host loads besides the rule files, kept as code (it ships inside the measured bundle, not as a
 * separate artifact). HOST_PL is engine-neutral (SWI-Prolog 9, swipl-wasm, tau-prolog 0.3.4): the hooks the rule files
 * call and the batched evaluation driver. LOADER_PL is SWI-only: the load-time checks of rule and fact files.
 */

/** Hooks record what the rules asked for; one query evaluates every entry goal and returns everything at once. */
export const HOST_PL = String.raw`
:- dynamic(glimmer_violation/2).
:- dynamic(glimmer_shutdown/1).

log_compliance_violation(Asset, Code) :-
    (   glimmer_violation(Asset, Code) -> true
    ;   assertz(glimmer_violation(Asset, Code))
    ).

enforce_safety_shutdown(Unit) :-
    (   glimmer_shutdown(Unit) -> true
    ;   assertz(glimmer_shutdown(Unit))
    ).

glimmer_evaluate(Entries, Fired, Violations, Shutdowns) :-
    retractall(glimmer_violation(_, _)),
    retractall(glimmer_shutdown(_)),
    glimmer_fire_all(Entries, Fired),
    findall(Asset-Code, glimmer_violation(Asset, Code), Violations),
    findall(Unit, glimmer_shutdown(Unit), Shutdowns).

glimmer_fire_all([], []).
glimmer_fire_all([Goal|Goals], [Instances|Rest]) :-
    functor(Goal, Name, Arity),
    (   current_predicate(Name/Arity) -> findall(Goal, call(Goal), Instances)
    ;   Instances = []
    ),
    glimmer_fire_all(Goals, Rest).

glimmer_apply([]).
glimmer_apply([Delta|Deltas]) :-
    glimmer_apply_one(Delta),
    glimmer_apply(Deltas).

glimmer_apply_one(add(Fact)) :- assertz(Fact).
glimmer_apply_one(del(Fact)) :- ( retract(Fact) -> true ; true ).
`;

/**
 * Reads a file term by term with SWI-Prolog's own reader and reports problems with their line:
 * problem(Kind, Line, Text) with Kind in syntax, directive, redefined, clause (rule files) or fact (fact files).
 */
export const LOADER_PL = String.raw`
glimmer_check_rules(File, Defined, Problems) :-
    setup_call_cleanup(open(File, read, S), glimmer_rules_terms(S, Defined, Problems), close(S)).

glimmer_rules_terms(S, Defined, Problems) :-
    catch(read_term(S, T, [term_position(P), syntax_errors(error)]), E, true),
    (   nonvar(E) -> glimmer_syntax_problem(E, Pr), Defined = [], Problems = [Pr]
    ;   T == end_of_file -> Defined = [], Problems = []
    ;   stream_position_data(line_count, P, Line),
        findall(Pr, glimmer_rule_problem(T, Line, Pr), Ps),
        (   glimmer_clause_head(T, H), callable(H) -> functor(H, N, A), Defined = [def(N/A, Line)|Ds]
        ;   T = (:- dynamic(PIs)), glimmer_indicators(PIs) -> glimmer_dynamic_list(PIs, Line, Defined, Ds)
        ;   Defined = Ds
        ),
        glimmer_rules_terms(S, Ds, Rest),
        append(Ps, Rest, Problems)
    ).

glimmer_syntax_problem(error(syntax_error(M), stream(_, Line, _, _)), problem(syntax, Line, Text)) :- !,
    format(atom(Text), '~w', [M]).
glimmer_syntax_problem(error(syntax_error(M), file(_, Line, _, _)), problem(syntax, Line, Text)) :- !,
    format(atom(Text), '~w', [M]).
glimmer_syntax_problem(E, problem(syntax, 0, Text)) :- format(atom(Text), '~q', [E]).

glimmer_clause_head(T, _) :- var(T), !, fail.
glimmer_clause_head((:- _), _) :- !, fail.
glimmer_clause_head((?- _), _) :- !, fail.
glimmer_clause_head((H :- _), H) :- !.
glimmer_clause_head((H --> _), H) :- !.
glimmer_clause_head(H, H).

glimmer_rule_problem(T, Line, problem(clause, Line, 'a clause cannot be a variable')) :- var(T), !.
glimmer_rule_problem((:- D), Line, problem(directive, Line, Text)) :- !,
    \+ glimmer_allowed_directive(D), format(atom(Text), '~q', [(:- D)]).
glimmer_rule_problem((?- D), Line, problem(directive, Line, Text)) :- !, format(atom(Text), '~q', [(?- D)]).
glimmer_rule_problem((_ --> _), Line, problem(clause, Line, 'grammar rules (-->) are not engine-neutral')) :- !.
glimmer_rule_problem(T, Line, problem(clause, Line, Text)) :-
    glimmer_clause_head(T, H), \+ callable(H), !, format(atom(Text), 'clause head ~q is not callable', [H]).
glimmer_rule_problem(T, Line, problem(redefined, Line, Text)) :-
    glimmer_clause_head(T, H), callable(H), glimmer_reserved(H, Why),
    functor(H, N, A), format(atom(Text), '~q is ~w', [N/A, Why]).

glimmer_allowed_directive(dynamic(PIs)) :- glimmer_indicators(PIs).
glimmer_allowed_directive(discontiguous(PIs)) :- glimmer_indicators(PIs).

glimmer_dynamic_list(PIs, Line, Out, Tail) :-
    (   is_list(PIs) -> findall(dyn(PI, Line), member(PI, PIs), L) ; L = [dyn(PIs, Line)] ),
    append(L, Tail, Out).

glimmer_indicators(PI) :- glimmer_indicator(PI), !.
glimmer_indicators(PIs) :- is_list(PIs), PIs \== [], forall(member(PI, PIs), glimmer_indicator(PI)).
glimmer_indicator(N/A) :- atom(N), integer(A), A >= 0.

glimmer_reserved(H, 'a built-in predicate') :- predicate_property(system:H, built_in), !.
glimmer_reserved(H, 'a built-in predicate') :- predicate_property(system:H, iso), !.
glimmer_reserved(H, 'a built-in predicate') :- functor(H, N, A), memberchk(N/A, [(',')/2, (;)/2, (->)/2, (*->)/2, (!)/0, (\+)/1, call/1, (:-)/1, (:-)/2]), !.
glimmer_reserved(H, 'a host hook') :- functor(H, N, A), memberchk(N/A, [log_compliance_violation/2, enforce_safety_shutdown/1]), !.
glimmer_reserved(H, 'reserved for the host (glimmer_ prefix)') :- functor(H, N, _), sub_atom(N, 0, _, _, glimmer_).

glimmer_read_facts(File, Known, Facts, Problems) :-
    setup_call_cleanup(open(File, read, S), glimmer_fact_terms(S, Known, Facts, Problems), close(S)).

glimmer_fact_terms(S, Known, Facts, Problems) :-
    catch(read_term(S, T, [term_position(P), syntax_errors(error)]), E, true),
    (   nonvar(E) -> glimmer_syntax_problem(E, Pr), Facts = [], Problems = [Pr]
    ;   T == end_of_file -> Facts = [], Problems = []
    ;   stream_position_data(line_count, P, Line),
        (   glimmer_fact_problem(T, Known, Why)
        ->  Facts = Fs, Problems = [problem(fact, Line, Why)|Ps]
        ;   Facts = [T|Fs], Problems = Ps
        ),
        glimmer_fact_terms(S, Known, Fs, Ps)
    ).

glimmer_fact_problem(T, _, 'a fact cannot be a variable') :- var(T), !.
glimmer_fact_problem((:- _), _, 'directives are not allowed in a fact file') :- !.
glimmer_fact_problem((_ :- _), _, 'rules are not allowed in a fact file') :- !.
glimmer_fact_problem(T, _, Why) :- \+ callable(T), !, format(atom(Why), '~q is not a fact', [T]).
glimmer_fact_problem(T, _, Why) :- \+ ground(T), !, functor(T, N, A), format(atom(Why), '~q has variables; facts must be ground', [N/A]).
glimmer_fact_problem(T, Known, Why) :- functor(T, N, A), \+ memberchk(N/A, Known), !,
    format(atom(Why), '~q is not in the fact vocabulary', [N/A]).
glimmer_fact_problem(T, _, Why) :- glimmer_fact_arg(T, Bad), !,
    format(atom(Why), 'argument ~q is not an atom or a number', [Bad]).

glimmer_fact_arg(T, Bad) :- T =.. [_|Args], member(Bad, Args), \+ atomic(Bad), !.
glimmer_fact_arg(T, Bad) :- T =.. [_|Args], member(Bad, Args), string(Bad), !.
`;
