/**
 * JSON Schema (2020-12) of the OCSF 1.1.0 events this Host emits, written from the OCSF schema
 * (schema.ocsf.io/1.1.0): the base event's required attributes, and per class (API Activity 6003,
 * Authentication 3002, Authorize Session 3003) its required attributes, enums and object shapes,
 * for the attributes we emit. Exports are validated against it in tests; SIEM teams can use it to
 * check a pipeline. It is not the full OCSF schema: attributes we never emit are not described,
 * and `additionalProperties` is closed so an attribute we start emitting must be added here first.
 */
import Ajv2020 from "ajv/dist/2020.js";

const product = {
  type: "object",
  required: ["name", "vendor_name"],
  properties: { name: { type: "string" }, vendor_name: { type: "string" }, version: { type: "string" } },
  additionalProperties: false,
} as const;

const metadata = {
  type: "object",
  required: ["product", "version"],
  properties: {
    version: { const: "1.1.0" },
    product,
    uid: { type: "string" },
    event_code: { type: "string" },
    log_name: { type: "string" },
    sequence: { type: "integer", minimum: 0 },
    correlation_uid: { type: "string" },
    tenant_uid: { type: "string" },
  },
  additionalProperties: false,
} as const;

const user = {
  type: "object",
  required: ["uid"],
  properties: { uid: { type: "string", minLength: 1 }, name: { type: "string" } },
  additionalProperties: false,
} as const;

const actor = {
  type: "object",
  // OCSF: an actor has at least one of its attributes.
  minProperties: 1,
  properties: {
    user,
    session: { type: "object", required: ["uid"], properties: { uid: { type: "string" } }, additionalProperties: false },
  },
  additionalProperties: false,
} as const;

const endpoint = {
  type: "object",
  properties: { ip: { type: "string" }, svc_name: { type: "string" } },
  additionalProperties: false,
} as const;

const base = {
  required: ["category_uid", "class_uid", "activity_id", "type_uid", "severity_id", "time", "metadata"],
  properties: {
    category_uid: { type: "integer" },
    class_uid: { type: "integer" },
    class_name: { type: "string" },
    activity_id: { enum: [0, 1, 2, 3, 4, 99] },
    type_uid: { type: "integer" },
    // 0 Unknown, 1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical, 6 Fatal, 99 Other.
    severity_id: { enum: [0, 1, 2, 3, 4, 5, 6, 99] },
    severity: { enum: ["Unknown", "Informational", "Low", "Medium", "High", "Critical", "Fatal", "Other"] },
    // 0 Unknown, 1 Success, 2 Failure, 99 Other.
    status_id: { enum: [0, 1, 2, 99] },
    status: { enum: ["Unknown", "Success", "Failure", "Other"] },
    status_code: { type: "string" },
    // Epoch milliseconds (OCSF timestamp_t).
    time: { type: "integer", minimum: 0 },
    message: { type: "string" },
    metadata,
    actor,
    src_endpoint: endpoint,
    unmapped: { type: "object" },
  },
} as const;

/** The schema: one of the three classes, each with the base event's attributes. */
export const ocsfExportSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  $id: "https://aesp.dev/schemas/ocsf-1.1.0-export.json",
  oneOf: [
    {
      type: "object",
      required: [...base.required, "actor", "api", "src_endpoint", "cloud"],
      properties: {
        ...base.properties,
        category_uid: { const: 6 },
        class_uid: { const: 6003 },
        class_name: { const: "API Activity" },
        // 1 Create, 2 Read, 3 Update, 4 Delete, 99 Other.
        activity_id: { enum: [1, 2, 3, 4, 99] },
        type_uid: { enum: [600301, 600302, 600303, 600304, 600399] },
        api: {
          type: "object",
          required: ["operation"],
          properties: { operation: { type: "string", minLength: 1 }, service: { type: "object", properties: { name: { type: "string" } }, additionalProperties: false } },
          additionalProperties: false,
        },
        resources: { type: "array", items: { type: "object", required: ["uid"], properties: { uid: { type: "string" } }, additionalProperties: false } },
        cloud: { type: "object", required: ["provider"], properties: { provider: { type: "string" } }, additionalProperties: false },
      },
      additionalProperties: false,
    },
    {
      type: "object",
      required: [...base.required, "user"],
      properties: {
        ...base.properties,
        category_uid: { const: 3 },
        class_uid: { const: 3002 },
        class_name: { const: "Authentication" },
        // 1 Logon, 2 Logoff, 99 Other.
        activity_id: { enum: [1, 2, 99] },
        type_uid: { enum: [300201, 300202, 300299] },
        user,
      },
      additionalProperties: false,
    },
    {
      type: "object",
      required: [...base.required, "user"],
      properties: {
        ...base.properties,
        category_uid: { const: 3 },
        class_uid: { const: 3003 },
        class_name: { const: "Authorize Session" },
        activity_id: { enum: [1, 2, 99] },
        type_uid: { enum: [300301, 300302, 300399] },
        user,
      },
      additionalProperties: false,
    },
  ],
} as const;

/**
 * A validator for {@link ocsfExportSchema} (compiled once per call; keep the result).
 *
 * @returns A function giving null when the event is valid, else the schema errors as text.
 */
export function ocsfExportValidator(): (event: unknown) => string | null {
  const ajv = new Ajv2020.default({ allErrors: true, strict: true });
  const validate = ajv.compile(ocsfExportSchema);
  return (event) => (validate(event) ? null : ajv.errorsText(validate.errors));
}
