// The compose project name is compose's to decide, as for a person running `docker compose`
// in the stack's folder: COMPOSE_PROJECT_NAME (environment or env file), else the file's
// `name:`, else the folder's name. berth passes `-p` only when it must:
//  - spec.compose.project says so;
//  - the stack runs under its metadata.name, as every berth before this rule ran it
//    (`-p <metadata.name>` always): compose may now name another project, and moving there
//    would leave the running containers behind as strays and start over with new volumes.
//    To move such a stack, set spec.compose.project.

/** The `-p` for compose, or undefined to let compose decide. `applied`: the project the stack's applied revision runs under. */
export function projectFlag(spec: string | undefined, stackName: string, applied: string | undefined): string | undefined {
  if (spec !== undefined) return spec;
  return applied === stackName ? applied : undefined;
}
