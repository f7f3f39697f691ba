// Validates FHIR R4 resources with FHIR.js (the npm package `fhir`: R4 structure definitions
// and value sets). Usage: node validate.js FILE.ndjson...
// Prints one JSON object: resources checked per type, and every resource with an error
// (file, line, id, messages). Warnings (an example binding's code not in its value set) are not
// errors; an unexpected property is.
'use strict';
const fs = require('fs');
const { Fhir } = require('fhir');

const fhir = new Fhir();
const checked = {};
const invalid = [];
for (const file of process.argv.slice(2)) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let resource;
    try {
      resource = JSON.parse(line);
    } catch (e) {
      invalid.push({ file, line: i + 1, id: null, messages: ['not JSON: ' + e.message] });
      return;
    }
    const type = resource.resourceType || '(none)';
    checked[type] = (checked[type] || 0) + 1;
    const result = fhir.validate(resource, { errorOnUnexpected: true });
    const errors = result.messages
      .filter((m) => m.severity === 'error')
      .map((m) => `${m.location}: ${m.message}`);
    if (!result.valid || errors.length > 0) {
      invalid.push({ file, line: i + 1, id: resource.id || null, messages: errors });
    }
  });
}
const version = require('fhir/package.json').version;
process.stdout.write(JSON.stringify({ validator: `fhir (FHIR.js) ${version}`, checked, invalid }) + '\n');
