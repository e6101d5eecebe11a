// The port every payment provider adapter implements. Both calls are idempotent on their key:
// a retry after a timeout or a crash returns the first answer and never moves money twice.

export type ChargeResult =
  | { readonly outcome: 'captured'; readonly providerRef: string }
  | { readonly outcome: 'declined'; readonly reason: string };

export interface PaymentProvider {
  charge(request: { readonly idempotencyKey: string; readonly amountCents: number; readonly token: string }): Promise<ChargeResult>;
  refund(request: { readonly idempotencyKey: string; readonly providerRef: string; readonly amountCents: number }): Promise<{ readonly refundRef: string }>;
}
