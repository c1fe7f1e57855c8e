// Validates the KEDA resources (keda.sh/v1alpha1) among YAML files against KEDA's own CRD schemas,
// as the npm package @kubernetes-models/keda carries them (compiled validators generated from
// KEDA's CustomResourceDefinitions), then refuses fields those schemas let through but the API
// server would reject under strict field validation (kubectl's default): unknown fields of the
// ScaledObject and TriggerAuthentication specs, and kafka trigger parameters KEDA does not
// document. Resources of other kinds are skipped (kubernetes-validate checks those).
//
//   node validate-keda.mjs NODE_MODULES_DIR FILE...    (deploy/k8s/check.sh runs it)
// Exits 1 if any resource is invalid, 2 if no KEDA resource was found at all.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [modules, ...files] = process.argv.slice(2);
if (!modules || files.length === 0) {
  console.error("usage: node validate-keda.mjs NODE_MODULES_DIR FILE...");
  process.exit(2);
}
const require = createRequire(join(modules, "noop.js"));
const YAML = require("yaml");
const model = async (kind) =>
  (await import(pathToFileURL(join(modules, "@kubernetes-models/keda/keda.sh/v1alpha1", `${kind}.js`))))[kind];

// Fields of KEDA 2.x's documented specs (keda.sh/docs: ScaledObject, TriggerAuthentication,
// Apache Kafka scaler).
const SCALED_OBJECT_SPEC = new Set(["scaleTargetRef", "pollingInterval", "cooldownPeriod",
  "initialCooldownPeriod", "idleReplicaCount", "minReplicaCount", "maxReplicaCount", "fallback",
  "advanced", "triggers"]);
const TRIGGER = new Set(["type", "name", "metadata", "authenticationRef", "metricType",
  "useCachedMetrics"]);
const KAFKA_METADATA = new Set(["bootstrapServers", "bootstrapServersFromEnv", "consumerGroup",
  "consumerGroupFromEnv", "topic", "topicFromEnv", "partitionLimitation", "lagThreshold",
  "activationLagThreshold", "offsetResetPolicy", "allowIdleConsumers", "excludePersistentLag",
  "scaleToZeroOnInvalidOffset", "limitToPartitionsWithLag", "ensureEvenDistributionOfPartitions",
  "version", "sasl", "tls", "unsafeSsl", "saslTokenProvider", "awsRegion"]);
const KAFKA_AUTH = new Set(["sasl", "username", "password", "tls", "ca", "cert", "key",
  "keyPassword", "keyEncoding", "oauthTokenEndpointUri", "scopes", "oauthExtensions", "realm",
  "kerberosConfig", "serviceName", "keytab", "kerberosDisableFAST", "awsRegion",
  "awsAccessKeyID", "awsSecretAccessKey", "roleArn"]);
const TRIGGER_AUTH_SPEC = new Set(["podIdentity", "secretTargetRef", "env", "configMapTargetRef",
  "hashiCorpVault", "azureKeyVault", "awsSecretManager", "gcpSecretManager",
  "boundServiceAccountToken"]);

const problems = [];
let seen = 0;
const unknown = (where, object, allowed) => {
  for (const key of Object.keys(object ?? {})) {
    if (!allowed.has(key)) problems.push(`${where}: unknown field ${key}`);
  }
};

for (const file of files) {
  for (const doc of YAML.parseAllDocuments(readFileSync(file, "utf8"))) {
    const resource = doc.toJS();
    if (!resource || resource.apiVersion !== "keda.sh/v1alpha1") continue;
    seen += 1;
    const where = `${file}: ${resource.kind}/${resource.metadata?.name}`;
    const Kind = await model(resource.kind).catch(() => undefined);
    if (!Kind) {
      problems.push(`${where}: KEDA has no kind ${resource.kind}`);
      continue;
    }
    try {
      new Kind(resource).validate();
    } catch (error) {
      problems.push(`${where}: ${error.message}`);
    }
    if (resource.kind === "ScaledObject") {
      unknown(`${where} spec`, resource.spec, SCALED_OBJECT_SPEC);
      for (const [i, trigger] of (resource.spec?.triggers ?? []).entries()) {
        unknown(`${where} triggers[${i}]`, trigger, TRIGGER);
        if (trigger.type === "kafka") {
          unknown(`${where} triggers[${i}].metadata`, trigger.metadata, KAFKA_METADATA);
        }
      }
    }
    if (resource.kind === "TriggerAuthentication") {
      unknown(`${where} spec`, resource.spec, TRIGGER_AUTH_SPEC);
      for (const ref of resource.spec?.secretTargetRef ?? []) {
        if (!KAFKA_AUTH.has(ref.parameter)) {
          problems.push(`${where}: ${ref.parameter} is not a kafka scaler parameter`);
        }
      }
    }
  }
}
for (const problem of problems) console.error(problem);
if (seen === 0) {
  console.error("no keda.sh/v1alpha1 resource found");
  process.exit(2);
}
process.exit(problems.length > 0 ? 1 : 0);
