/** What other modules may use of teams. */
export { TeamsService, type TeamMemberView } from './teams.service';
export { TeamsResolver, TeamAccountResolver } from './teams.resolver';
export { TeamBudgetRules } from './budget-rules';
