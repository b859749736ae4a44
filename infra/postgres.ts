// What the deployment accepts of PostgreSQL, in one place for the settings and the database component.

/** PostgreSQL majors that both PuppetDB 7 (11+) and PuppetDB 8 (14+) support and RDS offers. */
export const SUPPORTED_POSTGRES_MAJORS = ["14", "15", "16"] as const;

/** Days of automated backups RDS keeps: at least a week here, at most RDS's own 35. */
export const BACKUP_RETENTION_DAYS = { min: 7, max: 35 } as const;

/** Why `version` is not a supported PostgreSQL major, or undefined when it is. */
export function postgresMajorProblem(version: string): string | undefined {
  return (SUPPORTED_POSTGRES_MAJORS as readonly string[]).includes(version)
    ? undefined
    : `expected a PostgreSQL major version PuppetDB supports: ${SUPPORTED_POSTGRES_MAJORS.join(", ")}`;
}

/** PuppetDB's database and the role it connects as. */
export const DATABASE_NAME = "puppetdb";
export const DATABASE_USER = "puppetdb";
