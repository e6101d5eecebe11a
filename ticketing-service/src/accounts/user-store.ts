import { eq } from 'drizzle-orm';
import type { Database } from '@ticketing/shared/db/client';
import { users, type UserRow } from '@ticketing/shared/db/schema';

export type Role = 'buyer' | 'organizer';

export interface UserStore {
  // Null when the email is taken.
  create(user: { id: string; email: string; passwordHash: string; role: Role }): Promise<UserRow | null>;
  findByEmail(email: string): Promise<UserRow | null>;
  findById(id: string): Promise<UserRow | null>;
  setRole(email: string, role: Role): Promise<UserRow | null>;
}

const uniqueViolation = '23505';

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function createUserStore(db: Database): UserStore {
  return {
    async create(user) {
      try {
        const [row] = await db.insert(users).values({ ...user, email: normalizeEmail(user.email) }).returning();
        return row ?? null;
      } catch (error) {
        if ((error as { code?: string }).code === uniqueViolation || (error as { cause?: { code?: string } }).cause?.code === uniqueViolation) return null;
        throw error;
      }
    },
    async findByEmail(email) {
      const [row] = await db.select().from(users).where(eq(users.email, normalizeEmail(email)));
      return row ?? null;
    },
    async findById(id) {
      const [row] = await db.select().from(users).where(eq(users.id, id));
      return row ?? null;
    },
    async setRole(email, role) {
      const [row] = await db.update(users).set({ role }).where(eq(users.email, normalizeEmail(email))).returning();
      return row ?? null;
    },
  };
}
