/** The shape of one route of the API, read by the route table and by the OpenAPI document. */
import type { z } from 'zod';
import type { Role } from './auth.js';

/** One route as the API declares it: enough to register it and to describe it. */
export interface RouteSpec {
  method: 'GET' | 'POST';
  /** fastify's form: `/v1/tasks/:id`. */
  url: string;
  /** The role it needs; `null`: no bearer token (health, metrics, the callback token). */
  role: Role | null;
  summary: string;
  params?: Record<string, string>;
  query?: z.ZodType;
  body?: z.ZodType;
  /** Status -> the body schema answered with it. */
  responses: Record<number, z.ZodType>;
  /** Not in the OpenAPI document (the document itself). */
  hidden?: boolean;
}

