/** What other modules may use of plan advice. */
export { AdviceService } from './advice.service';
export { AdviceResolver } from './advice.resolver';
