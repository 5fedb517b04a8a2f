/** What other modules may use of platform activity (the admin dashboard's reads). */
export { ActivityService } from './activity.service';
export { ActivityResolver } from './activity.resolver';
