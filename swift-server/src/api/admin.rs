//! `/api/v1/admin`: staff-only management (users here; catalog and orders join later).

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use swift_core::accounts::repository::UserFilter;
use swift_core::accounts::{User, service};
use swift_core::pagination::PageRequest;
use swift_core::validation::plain_text;
use uuid::Uuid;

use super::ApiTags;
use super::auth::UserBody;
use crate::AppState;
use crate::auth::Auth;
use crate::problem::ApiResult;

/// A user as staff see them: the user's own view plus whether the account is active.
#[derive(Object)]
pub struct AdminUser {
    #[oai(flatten)]
    pub user: UserBody,
    pub is_active: bool,
}

impl From<User> for AdminUser {
    fn from(u: User) -> Self {
        Self {
            is_active: u.is_active,
            user: u.into(),
        }
    }
}

/// A page of users.
#[derive(Object)]
pub struct AdminUserPage {
    pub items: Vec<AdminUser>,
    pub total: i64,
    pub page: u32,
    pub page_size: u32,
    pub pages: u32,
}

#[derive(Object)]
#[oai(rename = "AdminUserUpdate")]
pub struct AdminUpdateUser {
    /// false deactivates the account and ends all its sessions.
    pub is_active: Option<bool>,
    pub is_staff: Option<bool>,
}

pub struct AdminUsersApi;

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Admin")]
impl AdminUsersApi {
    /// List users (staff).
    #[oai(path = "/users", method = "get", operation_id = "adminListUsers")]
    #[allow(clippy::too_many_arguments)]
    async fn list_users(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        /// Part of the email.
        #[oai(validator(max_length = 254))]
        q: Query<Option<String>>,
        is_staff: Query<Option<bool>>,
        is_active: Query<Option<bool>>,
        #[oai(default = "default_page", validator(minimum(value = "1")))] page: Query<u32>,
        #[oai(
            default = "default_page_size",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        page_size: Query<u32>,
    ) -> ApiResult<Json<AdminUserPage>> {
        auth.staff()?;
        let page = PageRequest::new(page.0, page_size.0)?;
        let filter = UserFilter {
            email_contains: q
                .0
                .map(|q| plain_text("q", &q.to_lowercase(), 254))
                .transpose()?
                .filter(|q| !q.is_empty()),
            is_staff: is_staff.0,
            is_active: is_active.0,
        };
        let result = service::admin_list_users(&state, &filter, page).await?;
        Ok(Json(AdminUserPage {
            total: result.total,
            page: result.page,
            page_size: result.page_size,
            pages: result.pages,
            items: result.items.into_iter().map(Into::into).collect(),
        }))
    }

    /// Activate/deactivate or promote/demote a user (staff).
    #[oai(
        path = "/users/:id",
        method = "patch",
        operation_id = "adminUpdateUser"
    )]
    async fn update_user(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<AdminUpdateUser>,
    ) -> ApiResult<Json<AdminUser>> {
        auth.staff()?;
        let user = service::admin_update_user(&state, id.0, body.is_active, body.is_staff).await?;
        Ok(Json(user.into()))
    }
}

/// First page.
pub fn default_page() -> u32 {
    1
}

/// docs/API.md's default page size.
pub fn default_page_size() -> u32 {
    20
}
