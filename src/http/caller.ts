/** The caller of a resource request: who it is and what its role lets it see of the database. */
import type { Principal } from '../auth/principal.ts';
import type { RoleView } from '../auth/role-view.ts';

export interface Caller {
  readonly principal: Principal;
  readonly view: RoleView;
}
