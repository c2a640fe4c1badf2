// Compile-time check that the study app's interfaces (app_types.ts) fit the OpenAPI schema the research API
// publishes. It emits nothing and runs nothing: `tsc --noEmit --strict` either compiles it or names what differs.
// tests/unit/api/test_typescript.py generates "api-openapi" (openapi-typescript over `americano api openapi`) into a
// temporary directory and maps the module name to it (tsconfig `paths`).
//
// For each of the four endpoints:
//  (a) requests: every app request is assignable to the body the API accepts (so nothing the API requires is
//      optional or missing in the app, and the types agree), and the app sends no field the API does not know (the
//      API forbids unknown fields with a 422; plain assignability would let them through);
//  (b) responses: the 200 body the API publishes is assignable to the app's interface, so every field the app reads
//      is required there, with the app's type (a tuple is a tuple, a number is never null, unless listed below).
//
// The one documented exception: two numbers the API publishes as `number | null`, where the app declares `number`:
//  - abab-randomization-test `effectSize` (Cohen's d): null when the pooled SD is 0 (d is undefined or infinite,
//    and JSON has no NaN or Infinity);
//  - change-points `changePoints[].percentChange`: null when the mean before is exactly 0.
// Both are true answers, not API bugs, so the check compares the rest of those responses with the null set aside,
// and asserts separately that the null is still published (when the API stops sending it, the exception goes).
// The app must handle null in these two fields (declare them `number | null`); until it does, it may crash on them.

import type { paths } from "api-openapi";
import type * as App from "./app_types";

type Prefix = "/api/analytics/research";
type ITS = `${Prefix}/bayesian-its`;
type Randomization = `${Prefix}/abab-randomization-test`;
type ChangePoints = `${Prefix}/change-points`;
type Sequential = `${Prefix}/sequential-boundaries`;

// Each fails to compile ("does not satisfy the constraint") for a path the API no longer publishes.
type Post<P extends keyof paths> = paths[P] extends { post: infer Operation } ? Operation : never;
/** The JSON body the endpoint accepts. */
type Body<P extends keyof paths> = NonNullable<Post<P> extends { requestBody?: infer B } ? B : never> extends {
  content: { "application/json": infer Json };
}
  ? Json
  : never;
/** The JSON body of the endpoint's 200 answer. */
type Answer<P extends keyof paths> = Post<P> extends {
  responses: { 200: { content: { "application/json": infer Json } } };
}
  ? Json
  : never;

/** The dotted paths of the fields of A (recursively) that B has no field for: the fields the API does not know. */
type UnknownFields<A, B, Prefix extends string = ""> = A extends readonly (infer Item)[]
  ? UnknownFields<Item, B extends readonly (infer BItem)[] ? BItem : never, `${Prefix}[].`>
  : A extends object
    ? {
        [K in keyof A & string]-?: K extends keyof B
          ? UnknownFields<NonNullable<A[K]>, NonNullable<B[K]>, `${Prefix}${K}.`>
          : `${Prefix}${K}`;
      }[keyof A & string]
    : never;
/** Compiles only when `Fields` is never; otherwise the error lists them ("Property 'x' is missing ... {}"). */
type NoneOf<Fields extends string> = Record<Fields, never>;

/** T with field K's type replaced by V; other fields (optional or not, and the index signature) unchanged. */
type Replace<T, K extends keyof T, V> = { [P in keyof T]: P extends K ? V : T[P] };
/** T with null taken out of field K (the documented exception above). */
type NullAside<T, K extends keyof T> = Replace<T, K, Exclude<T[K], null>>;

// None of them is `any` (which anything is assignable to and from: the check would pass without checking).
type Typed<T> = 0 extends 1 & T ? "any: nothing would be checked" : "typed";
export const typed: Typed<Body<ITS> | Body<Randomization> | Body<ChangePoints> | Body<Sequential> | Answer<ITS>
  | Answer<Randomization> | Answer<ChangePoints> | Answer<Sequential>> = "typed";

// ---- (a) requests: app -> API -------------------------------------------------------------------------------------

declare const itsRequest: App.BayesianITSRequest;
declare const randomizationRequest: App.RandomizationRequest;
declare const changePointsRequest: App.ChangePointsRequest;
declare const sequentialRequest: App.SequentialBoundariesRequest;

export const bayesianItsRequestFits: Body<ITS> = itsRequest;
export const randomizationRequestFits: Body<Randomization> = randomizationRequest;
export const changePointsRequestFits: Body<ChangePoints> = changePointsRequest;
export const sequentialBoundariesRequestFits: Body<Sequential> = sequentialRequest;

export const bayesianItsRequestFieldsTheApiDoesNotKnow:
  NoneOf<UnknownFields<App.BayesianITSRequest, Body<ITS>>> = {};
export const randomizationRequestFieldsTheApiDoesNotKnow:
  NoneOf<UnknownFields<App.RandomizationRequest, Body<Randomization>>> = {};
export const changePointsRequestFieldsTheApiDoesNotKnow:
  NoneOf<UnknownFields<App.ChangePointsRequest, Body<ChangePoints>>> = {};
export const sequentialBoundariesRequestFieldsTheApiDoesNotKnow:
  NoneOf<UnknownFields<App.SequentialBoundariesRequest, Body<Sequential>>> = {};

// The README's example bodies, as the app would build them (object literals: excess properties are errors too).
export const exampleBodies: [Body<ITS>, Body<Randomization>, Body<ChangePoints>, Body<Sequential>] = [
  { userId: "u1", metric: "study_minutes", interventionDate: "2026-09-08", prePeriodDays: 21, postPeriodDays: 23,
    priorParams: { effectMean: 0, effectSd: 10 } } satisfies App.BayesianITSRequest,
  { userId: "u1", protocolId: "c" + "a".repeat(24), metric: "engagement_score" } satisfies App.RandomizationRequest,
  { userId: "u1", metric: "study_minutes", startDate: "2026-08-18", endDate: "2026-09-30" } satisfies
    App.ChangePointsRequest,
  { alphaLevel: 0.05, spendingFunction: "obrien_fleming", maxN: 40, nInterimAnalyses: 4 } satisfies
    App.SequentialBoundariesRequest,
];

// ---- (b) responses: API -> app ------------------------------------------------------------------------------------

type ChangePointAnswer = Answer<ChangePoints>["changePoints"][number];

declare const itsAnswer: Answer<ITS>;
declare const randomizationAnswer: NullAside<Answer<Randomization>, "effectSize">;
declare const changePointsAnswer: Replace<Answer<ChangePoints>, "changePoints",
  NullAside<ChangePointAnswer, "percentChange">[]>;
declare const sequentialAnswer: Answer<Sequential>;

export const bayesianItsResponseFits: App.BayesianITSResponse = itsAnswer;
export const randomizationResponseFits: App.RandomizationResponse = randomizationAnswer;
export const changePointsResponseFits: App.ChangePointsResponse = changePointsAnswer;
export const sequentialBoundariesResponseFits: App.SequentialBoundariesResponse = sequentialAnswer;

// The exception is only for these two fields, and only while the API really publishes null in them.
type NullIn<T, Field extends string> = null extends T ? "null published"
  : `${Field} is never null now: remove its exception from check.ts`;
export const effectSizeNullException: NullIn<Answer<Randomization>["effectSize"], "effectSize"> = "null published";
export const percentChangeNullException: NullIn<ChangePointAnswer["percentChange"], "changePoints[].percentChange"> =
  "null published";
