import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EnterpriseError } from "../errors.ts";
import type { ArtifactStatus } from "../records.ts";
import { assertTransition, canServe, canTransition, isTerminal } from "./lifecycle.ts";

const STATUSES: readonly ArtifactStatus[] = ["DRAFT", "PENDING_APPROVAL", "ACTIVE", "DEPRECATED", "RETIRED", "REJECTED"];

// Written out independently of the implementation's table, so a change to the table fails here.
const ALLOWED = new Set([
  "DRAFT>PENDING_APPROVAL",
  "PENDING_APPROVAL>ACTIVE",
  "PENDING_APPROVAL>REJECTED",
  "ACTIVE>DEPRECATED",
  "ACTIVE>RETIRED",
  "DEPRECATED>RETIRED",
]);

void describe("artifact lifecycle", () => {
  void it("allows exactly the documented transitions", () => {
    for (const from of STATUSES) {
      for (const to of STATUSES) {
        assert.equal(canTransition(from, to), ALLOWED.has(`${from}>${to}`), `${from} -> ${to}`);
      }
    }
  });

  void it("assertTransition passes for every allowed transition", () => {
    for (const pair of ALLOWED) {
      const [from, to] = pair.split(">") as [ArtifactStatus, ArtifactStatus];
      assert.doesNotThrow(() => assertTransition(from, to));
    }
  });

  void it("refuses shortcuts, resurrection and resubmission with INVALID_STATE_TRANSITION", () => {
    const forbidden: [ArtifactStatus, ArtifactStatus][] = [
      ["DRAFT", "ACTIVE"],
      ["REJECTED", "DRAFT"],
      ["REJECTED", "PENDING_APPROVAL"],
      ["RETIRED", "ACTIVE"],
      ["DEPRECATED", "ACTIVE"],
      ["ACTIVE", "DRAFT"],
      ["ACTIVE", "ACTIVE"],
      ["PENDING_APPROVAL", "RETIRED"],
    ];
    for (const [from, to] of forbidden) {
      assert.throws(
        () => assertTransition(from, to),
        (error: unknown) =>
          error instanceof EnterpriseError &&
          error.code === "INVALID_STATE_TRANSITION" &&
          error.details["from"] === from &&
          error.details["to"] === to,
        `${from} -> ${to}`,
      );
    }
  });

  void it("serves ACTIVE and DEPRECATED only", () => {
    assert.deepEqual(STATUSES.filter(canServe), ["ACTIVE", "DEPRECATED"]);
  });

  void it("treats REJECTED and RETIRED as terminal", () => {
    assert.deepEqual(STATUSES.filter(isTerminal), ["RETIRED", "REJECTED"]);
  });
});
