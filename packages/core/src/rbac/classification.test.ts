import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CLASSIFICATION_LEVELS, classificationRank, clearanceAllows, isClassification } from "./classification.ts";

void describe("classification", () => {
  void it("orders public < internal < confidential < restricted", () => {
    assert.deepEqual(CLASSIFICATION_LEVELS.map(classificationRank), [0, 1, 2, 3]);
    assert.deepEqual([...CLASSIFICATION_LEVELS], ["public", "internal", "confidential", "restricted"]);
    assert.equal(classificationRank("secret"), -1);
  });

  void it("allows a clearance to reach its own level and below, never above", () => {
    for (const clearance of CLASSIFICATION_LEVELS) {
      for (const classification of CLASSIFICATION_LEVELS) {
        const expected = CLASSIFICATION_LEVELS.indexOf(clearance) >= CLASSIFICATION_LEVELS.indexOf(classification);
        assert.equal(clearanceAllows(clearance, classification), expected, `${clearance} vs ${classification}`);
      }
    }
    assert.equal(clearanceAllows("internal", "restricted"), false);
    assert.equal(clearanceAllows("restricted", "public"), true);
  });

  void it("allows nothing when either level is unknown", () => {
    assert.equal(clearanceAllows("top-secret", "public"), false);
    assert.equal(clearanceAllows("restricted", "PUBLIC"), false);
    assert.equal(clearanceAllows("", ""), false);
    assert.equal(isClassification("internal"), true);
    assert.equal(isClassification("Internal"), false);
    assert.equal(isClassification(1), false);
  });
});
