/**
 * The simulated platform itself: services, CRM, entitlements, billing, provisioning and email,
 * held in memory. Knows nothing of HTTP, faults or idempotency (the server does those), so each
 * route is a plain function from a request to a status, a body and the effect it applied.
 */
import { z } from 'zod';
import {
  EntitlementSchema,
  ProvisioningSchema,
  type EffectKind,
  type EntitlementInput,
  type ServiceState,
  type StateInput,
  type TenantStatus,
  zodProblems,
} from './model.js';

export interface OpsRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  body: unknown;
}

export interface OpsResponse {
  status: number;
  body: unknown;
  /** Set when the route changed something. */
  effect?: { kind: EffectKind; id?: string };
}

interface Route {
  method: string;
  pattern: RegExp;
  /** False for routes that cannot be deduplicated (a charge, an email): they ignore Idempotency-Key. */
  keyed: boolean;
  run(params: string[], req: OpsRequest): OpsResponse;
}

interface Account { id: string; customer: string; plan: string }
interface Entitlement { customer: string; plan: string; features: string[] }
interface Invoice { id: string; account: string; amount: number; status: 'open' | 'void' }
interface Charge { id: string; order: string; amount: number; refunded: boolean }
interface Tenant { id: string; account: string; plan: string; status: TenantStatus; pollsLeft: number }
interface Message { id: string; to: string; template: string; ref: string }

const NOT_FOUND: OpsResponse = { status: 404, body: { error: 'not found' } };

const AccountBody = z.object({ customer: z.string().min(1), plan: z.string().min(1) });
const InvoiceBody = z.object({ account: z.string().min(1), amount: z.number().nonnegative() });
const ChargeBody = z.object({ order: z.string().min(1), amount: z.number().nonnegative() });
const TenantBody = z.object({ account: z.string().min(1), plan: z.string().min(1) });
const MessageBody = z.object({ to: z.string().min(1), template: z.string().min(1), ref: z.string().min(1) });

/** A path segment decoded; kept as written when its percent-encoding is malformed. */
function decodeSegment(seg: string): string {
  try {
    return decodeURIComponent(seg);
  } catch {
    return seg;
  }
}

/** Parses a body or returns the 400 to answer. */
function parse<T>(schema: z.ZodType<T>, body: unknown): { ok: true; value: T } | { ok: false; res: OpsResponse } {
  const r = schema.safeParse(body);
  if (r.success) return { ok: true, value: r.data };
  return { ok: false, res: { status: 400, body: { error: 'bad request', problems: zodProblems(r.error) } } };
}

export class Operations {
  private services = new Map<string, ServiceState>();
  private accounts = new Map<string, Account>();
  private entitlements = new Map<string, Entitlement>();
  private invoices = new Map<string, Invoice>();
  private charges = new Map<string, Charge>();
  private tenants = new Map<string, Tenant>();
  private messages = new Map<string, Message>();
  private counters = new Map<string, number>();
  private provisioning = ProvisioningSchema.parse({});
  private readonly routes: Route[] = this.buildRoutes();

  /** Forgets everything: back to all services healthy and nothing created. */
  reset(): void {
    for (const m of [this.services, this.accounts, this.entitlements, this.invoices, this.charges, this.tenants, this.messages, this.counters]) {
      m.clear();
    }
    this.provisioning = ProvisioningSchema.parse({});
  }

  setService(name: string, s: ServiceState): void {
    this.services.set(name, { ...s });
  }

  setEntitlement(customer: string, e: EntitlementInput): void {
    this.entitlements.set(customer, { customer, plan: e.plan, features: [...e.features] });
  }

  /** Merges a `POST /_sim/state` body (already validated), except the token, which the server holds. */
  apply(input: StateInput): void {
    for (const [name, s] of Object.entries(input.services ?? {})) this.setService(name, s);
    for (const [customer, e] of Object.entries(input.entitlements ?? {})) this.setEntitlement(customer, e);
    if (input.provisioning) this.provisioning = ProvisioningSchema.parse(input.provisioning);
  }

  /** Everything held, for `GET /_sim/state`. */
  snapshot(): Record<string, unknown> {
    return {
      services: Object.fromEntries(this.services),
      entitlements: Object.fromEntries(this.entitlements),
      accounts: [...this.accounts.values()],
      invoices: [...this.invoices.values()],
      charges: [...this.charges.values()],
      tenants: [...this.tenants.values()].map(({ pollsLeft: _, ...t }) => t),
      messages: [...this.messages.values()],
      provisioning: this.provisioning,
    };
  }

  /** True when `Idempotency-Key` deduplicates this request (mutating, and not a *no key* route). */
  keyed(method: string, path: string): boolean {
    if (method !== 'POST' && method !== 'PUT' && method !== 'DELETE') return false;
    return this.match(method, path)?.route.keyed ?? false;
  }

  handle(req: OpsRequest): OpsResponse {
    const m = this.match(req.method, req.path);
    return m ? m.route.run(m.params, req) : NOT_FOUND;
  }

  private match(method: string, path: string): { route: Route; params: string[] } | undefined {
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const m = route.pattern.exec(path);
      if (m) return { route, params: m.slice(1).map(decodeSegment) };
    }
    return undefined;
  }

  private next(prefix: string): string {
    const n = (this.counters.get(prefix) ?? 0) + 1;
    this.counters.set(prefix, n);
    return `${prefix}_${n}`;
  }

  private buildRoutes(): Route[] {
    const seg = '([^/]+)';
    const r = (method: string, path: string, run: Route['run'], keyed = true): Route => ({
      method,
      pattern: new RegExp(`^${path.replaceAll(':p', seg)}$`),
      keyed,
      run,
    });
    return [
      r('GET', '/services/:p/health', ([name]) => ({
        status: 200,
        body: { service: name, status: this.services.get(name!)?.status ?? 'healthy' },
      })),
      r('POST', '/services/:p/restart', ([name]) => {
        const s = this.services.get(name!);
        if (s && !s.stayDegraded) this.services.set(name!, { status: 'healthy' });
        const id = this.next('rst');
        return { status: 200, body: { id, service: name }, effect: { kind: 'service.restart', id } };
      }),

      r('GET', '/crm/accounts', (_, req) => ({
        status: 200,
        body: { items: [...this.accounts.values()].filter((a) => req.query.customer === undefined || a.customer === req.query.customer) },
      })),
      r('POST', '/crm/accounts', (_, req) => {
        const p = parse(AccountBody, req.body);
        if (!p.ok) return p.res;
        const account = { id: this.next('acc'), customer: p.value.customer, plan: p.value.plan };
        this.accounts.set(account.id, account);
        return { status: 201, body: account, effect: { kind: 'crm.account.create', id: account.id } };
      }),
      r('DELETE', '/crm/accounts/:p', ([id]) => {
        if (!this.accounts.delete(id!)) return NOT_FOUND;
        return { status: 200, body: { id, deleted: true }, effect: { kind: 'crm.account.delete', id: id! } };
      }),

      r('GET', '/entitlements/:p', ([customer]) => {
        const e = this.entitlements.get(customer!);
        return e ? { status: 200, body: e } : NOT_FOUND;
      }),
      r('PUT', '/entitlements/:p', ([customer], req) => {
        const p = parse(EntitlementSchema, req.body);
        if (!p.ok) return p.res;
        this.setEntitlement(customer!, p.value);
        return { status: 200, body: this.entitlements.get(customer!), effect: { kind: 'entitlement.put', id: customer! } };
      }),

      r('POST', '/billing/invoices', (_, req) => {
        const p = parse(InvoiceBody, req.body);
        if (!p.ok) return p.res;
        const invoice: Invoice = { id: this.next('inv'), account: p.value.account, amount: p.value.amount, status: 'open' };
        this.invoices.set(invoice.id, invoice);
        return { status: 201, body: invoice, effect: { kind: 'billing.invoice.create', id: invoice.id } };
      }),
      r('POST', '/billing/invoices/:p/void', ([id]) => {
        const invoice = this.invoices.get(id!);
        if (!invoice) return NOT_FOUND;
        invoice.status = 'void';
        return { status: 200, body: { id, status: 'void' }, effect: { kind: 'billing.invoice.void', id: id! } };
      }),
      r(
        'POST',
        '/billing/charges',
        (_, req) => {
          const p = parse(ChargeBody, req.body);
          if (!p.ok) return p.res;
          const charge: Charge = { id: this.next('ch'), order: p.value.order, amount: p.value.amount, refunded: false };
          this.charges.set(charge.id, charge);
          const { refunded: _r, ...body } = charge;
          return { status: 201, body, effect: { kind: 'billing.charge.create', id: charge.id } };
        },
        false,
      ),
      r('GET', '/billing/charges', (_, req) => ({
        status: 200,
        body: { items: [...this.charges.values()].filter((c) => req.query.order === undefined || c.order === req.query.order) },
      })),
      r('POST', '/billing/charges/:p/refund', ([id]) => {
        const charge = this.charges.get(id!);
        if (!charge) return NOT_FOUND;
        charge.refunded = true;
        return { status: 200, body: { id, refunded: true }, effect: { kind: 'billing.charge.refund', id: id! } };
      }),

      r('POST', '/provisioning/tenants', (_, req) => {
        const p = parse(TenantBody, req.body);
        if (!p.ok) return p.res;
        const polls = this.provisioning.pollsUntilDone;
        const tenant: Tenant = {
          id: this.next('ten'),
          account: p.value.account,
          plan: p.value.plan,
          status: polls > 0 ? 'provisioning' : this.provisioning.finalStatus,
          pollsLeft: polls,
        };
        this.tenants.set(tenant.id, tenant);
        return {
          status: 201,
          body: { id: tenant.id, account: tenant.account, status: tenant.status },
          effect: { kind: 'provisioning.tenant.create', id: tenant.id },
        };
      }),
      r('GET', '/provisioning/tenants/:p', ([id]) => {
        const t = this.tenants.get(id!);
        if (!t) return NOT_FOUND;
        if (t.pollsLeft > 0) {
          t.pollsLeft -= 1;
          if (t.pollsLeft === 0) t.status = this.provisioning.finalStatus;
        }
        return { status: 200, body: { id: t.id, status: t.status } };
      }),
      r('DELETE', '/provisioning/tenants/:p', ([id]) => {
        if (!this.tenants.delete(id!)) return NOT_FOUND;
        return { status: 200, body: { id, deleted: true }, effect: { kind: 'provisioning.tenant.delete', id: id! } };
      }),

      r(
        'POST',
        '/email/messages',
        (_, req) => {
          const p = parse(MessageBody, req.body);
          if (!p.ok) return p.res;
          const message: Message = { id: this.next('msg'), to: p.value.to, template: p.value.template, ref: p.value.ref };
          this.messages.set(message.id, message);
          return { status: 201, body: message, effect: { kind: 'email.message.send', id: message.id } };
        },
        false,
      ),
      r('GET', '/email/messages', (_, req) => ({
        status: 200,
        body: { items: [...this.messages.values()].filter((m) => req.query.ref === undefined || m.ref === req.query.ref) },
      })),
    ];
  }
}
