// Graphs and alert channels (fleet.yaml `monitoring:` and `alerts:`): which host runs Prometheus
// and Grafana, and where hearth's alerts go. The NixOS side is src/core/features/monitoring.ts.
import { z } from "zod";
import { hostName, port } from "./common.js";

/** The admin-entered secret holding the SMTP password (`hearth secrets set alerts-smtp-password`). */
export const SMTP_PASSWORD_SECRET = "alerts-smtp-password";

/** Prometheus' own duration syntax (model.ParseDuration): 15d, 12h, 1w, 1y, 90d12h. */
const duration = z
  .string()
  .regex(/^([0-9]+(ms|s|m|h|d|w|y))+$/, "must be a Prometheus duration such as 15d, 12h or 1y");

const httpUrl = z
  .string()
  .url("must be a URL such as https://ntfy.sh/my-fleet")
  .regex(/^https?:\/\/[^\s/]+(\/\S*)?$/, "must be an http:// or https:// URL, such as https://ntfy.sh/my-fleet");

/** An RFC 5321 mailbox as people type it (local@domain.tld); display names are not accepted. */
export const emailAddress = z
  .string()
  .regex(/^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/, "must be an e-mail address such as ops@example.org");

const smtpHost = z
  .string()
  .regex(/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/, "must be a host name or IPv4 address, without scheme or port (the port is smtp.port)");

export const monitoring = z
  .strictObject({
    prometheus: z
      .strictObject({
        host: hostName.describe("Fleet host that runs Prometheus and scrapes every host's node_exporter and Ethereum clients over the mesh"),
        retention: duration.default("15d").describe("How long Prometheus keeps samples (default 15d)"),
        port: port(9090, "Prometheus HTTP port, opened on the mesh interface only"),
      })
      .optional()
      .describe("Prometheus: one host collects the fleet's metrics"),
    grafana: z
      .strictObject({
        host: hostName.optional().describe("Fleet host that runs Grafana (default: the Prometheus host)"),
        port: port(3000, "Grafana HTTP port, opened on the mesh interface only"),
      })
      .optional()
      .describe("Grafana with Prometheus as its data source and hearth's node and Ethereum dashboards; the admin password is the hearth secret grafana-admin-password (`hearth secrets show`)"),
    nodeExporter: z
      .boolean()
      .default(true)
      .describe("Run node_exporter (CPU, memory, disks, network) on every host when Prometheus is set (default true)"),
  })
  .describe("Metrics and graphs: Prometheus, Grafana and node_exporter, reached over the fleet's mesh");

export const alerts = z
  .strictObject({
    webhook: httpUrl.optional().describe("URL that receives each alert as an HTTP POST with a JSON body (ntfy, Discord/Slack bridges, your own)"),
    email: z
      .strictObject({
        to: z.array(emailAddress).min(1, "list at least one recipient").describe("Recipients of alert e-mails"),
        from: emailAddress.describe("Sender address of alert e-mails"),
        smtp: z
          .strictObject({
            host: smtpHost.describe("SMTP server (e.g. smtp.example.org)"),
            port: port(587, "SMTP port: 587 submission with STARTTLS, 465 implicit TLS"),
            user: z.string().min(1).optional().describe("SMTP login, if the server wants one"),
            passwordSecret: z
              .boolean()
              .default(false)
              .describe(`The SMTP password is the admin-entered secret '${SMTP_PASSWORD_SECRET}': store it with \`hearth secrets set ${SMTP_PASSWORD_SECRET}\` (never in this file)`),
          })
          .describe("How alert e-mails are sent"),
      })
      .optional()
      .describe("Alert e-mails"),
    thresholds: z
      .strictObject({
        diskPercent: z.number().min(1).max(100).default(90).describe("Alert when a file system is fuller than this (percent, default 90)"),
        peersMin: z.number().int().min(0).default(3).describe("Alert when a client has fewer peers than this (default 3)"),
        behindSlots: z.number().int().min(1).default(8).describe("Alert when a beacon node's head is this many slots behind the wall clock (default 8)"),
        missedAttestations: z.number().int().min(1).default(2).describe("Alert after this many missed attestations of one validator in a row (default 2)"),
      })
      .prefault({})
      .describe("When a condition becomes an alert"),
    repeatHours: z.number().min(0.25).max(168).default(4).describe("Repeat an alert that is still firing after this many hours (default 4)"),
  })
  .describe("Where hearth's alerts go and when a condition is one");

export type Monitoring = z.infer<typeof monitoring>;
export type Alerts = z.infer<typeof alerts>;

/** The host Grafana runs on: its own, or the Prometheus host. */
export const grafanaHost = (m: Monitoring | undefined): string | undefined =>
  m?.grafana ? (m.grafana.host ?? m.prometheus?.host) : undefined;

/**
 * Whether Prometheus scrapes this host over the mesh: the fleet has Prometheus and the host is in
 * the mesh. Its clients' metrics then listen on the mesh address (open on the mesh interface only).
 */
export const scrapedOverMesh = (fleet: { monitoring?: Monitoring; mesh?: unknown }, host: { mesh: { enable: boolean } }): boolean =>
  fleet.monitoring?.prometheus !== undefined && fleet.mesh !== undefined && host.mesh.enable;
