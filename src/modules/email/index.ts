/** What other modules may use of email. */
export { EmailService, type AlertForEmail } from './email.service';
export { EmailResolver } from './email.resolver';
